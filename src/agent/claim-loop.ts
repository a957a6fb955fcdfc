import { isApiError } from "../client/errors.js";
import type { Task } from "../core/types.js";
import type { AgentCore } from "./agent-core.js";
import { errorText, freeSlot, isTransient, type HeldTask } from "./context.js";
import { releaseHeld, startWorker } from "./task-runner.js";
import { backoff } from "./wait.js";

/** The coordinator names of the repos multiclaude has initialised here (from the last state.json read). */
export function claimableRepos(core: Pick<AgentCore, "repos" | "state">): string[] {
  return core.repos.claimable(Object.keys(core.state().repos));
}

/**
 * The claim loop: while the agent runs and has a free slot, claims the next fitting task of a
 * repo multiclaude has here with a long poll, and starts its worker (beside the loop). After a
 * failed start it backs off before it spends a slot again. Ends when the agent drains or stops
 * (which also aborts the claim in flight); the watch loop aborts it when the repos change.
 */
export async function claimLoop(core: AgentCore): Promise<void> {
  let failures = 0;
  let noReposLogged = false;
  while (core.phase() === "running") {
    if (core.held.size >= core.options.maxWorkers) {
      await core.wake.claim.wait(core.heartbeatMs);
      continue;
    }
    if (core.startBackoffUntil > core.now()) {
      await core.wake.claim.wait(core.startBackoffUntil - core.now());
      continue;
    }
    core.readState();
    const repos = claimableRepos(core);
    core.claimingFor = repos.join(",");
    if (repos.length === 0) {
      if (!noReposLogged) {
        noReposLogged = true;
        core.log.log("warn", "agent.no_repos", `multiclaude has no repos initialised in ${core.options.multiclaudeHome}; claiming nothing until one is (multiclaude init URL NAME)`);
      }
      await core.wake.claim.wait(core.options.checkIntervalMs);
      continue;
    }
    noReposLogged = false;
    const slot = freeSlot(core.held);
    const abort = new AbortController();
    core.claimAbort = abort;
    try {
      const task = await core.client.claimNext({ workerName: slot, repos, waitSeconds: core.options.claimWaitMs / 1000, signal: abort.signal });
      failures = 0;
      if (task) await accept(core, task, slot);
    } catch (err) {
      if (core.phase() !== "running") break;
      if (abort.signal.aborted) continue; // the repos changed: claim again with the new ones
      failures++;
      let wait = backoff(failures, 500, 30_000);
      if (isApiError(err, "NODE_AT_CAPACITY") || isApiError(err, "NODE_OFFLINE") || isApiError(err, "NODE_CORDONED")) {
        // The coordinator counts claims we do not (they are reconciled) or saw no heartbeat lately.
        wait = core.heartbeatMs;
        core.wake.heartbeat.wake();
      }
      if (failures === 1 || failures % 10 === 0) {
        core.log.log(isTransient(err) ? "warn" : "error", "task.claim_failed", `claim failed (${errorText(err)}); retrying in ${(wait / 1000).toFixed(1)}s`, { failures });
      }
      // Woken early by a drain or a freed slot, which is fine for a retry.
      await core.wake.claim.wait(wait);
    } finally {
      if (core.claimAbort === abort) core.claimAbort = undefined;
    }
  }
}


async function accept(core: AgentCore, task: Task, slot: string): Promise<void> {
  const held: HeldTask = { task, slot, localRepo: core.repos.toLocal(task.repo), startedAt: core.now(), phase: "starting" };
  core.held.set(task.id, held);
  core.changed();
  core.log.log("info", "task.claimed", `claimed ${task.id} (${task.priority}, repo ${task.repo}) as ${slot}: ${firstLine(task.description)}`, {
    task_id: task.id,
    repo: task.repo,
    slot,
    attempt: task.attempts,
  });
  if (core.phase() !== "running") {
    // The answer crossed the drain: give it straight back.
    await releaseHeld(core, held, "agent is draining");
    return;
  }
  core.track(startWorker(core, held));
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}
