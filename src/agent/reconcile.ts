import { isApiError } from "../client/errors.js";
import type { Task } from "../core/types.js";
import type { AgentCore } from "./agent-core.js";

export type { Stray } from "./agent-core.js";
import { errorText, freeSlot, isTransient, type HeldTask } from "./context.js";
import type { LedgerEntry } from "./ledger.js";
import type { McState } from "./multiclaude-state.js";
import { findNewAgent, releaseHeld } from "./task-runner.js";
import { stopWorker } from "./worker-stop.js";


/**
 * Makes three views agree (on start, and after every re-registration): the tasks the coordinator
 * says this node holds, the workers state.json shows, and the agent's own ledger (`entries`: an
 * earlier run's, or what this run holds).
 * - a task this node holds with a live worker is adopted, and never started a second time;
 * - one whose worker finished meanwhile is adopted too, and the watch loop reports its outcome;
 * - one whose lease ran out is claimed again by id when nobody else took it, then as above;
 * - a worker whose task this node no longer holds (claimed elsewhere, cancelled, done) is stopped;
 * - a task this node holds with no worker is released (a start the agent died in may still
 *   create one: it is watched for, and stopped, for the start command's timeout).
 * Returns false when the coordinator could not be asked (the entries are kept, to try again).
 */
export async function reconcile(core: AgentCore, entries: readonly LedgerEntry[]): Promise<boolean> {
  const registration = core.client.registrationId;
  let claimed: Set<string>;
  try {
    claimed = new Set((await core.client.getNode(core.options.nodeId)).claimed_tasks);
  } catch (err) {
    core.log.log("warn", "agent.reconcile_deferred", `cannot check this node's claims yet (${errorText(err)}); trying again after the next heartbeat`);
    for (const e of entries) if (!core.held.has(e.task.id)) core.held.set(e.task.id, { ...e, phase: "running" });
    return false;
  }
  const state = core.readState();
  for (const e of entries) {
    const held: HeldTask = { ...e, phase: "running" };
    core.held.delete(e.task.id);
    held.worker ??= findNewAgent(core, held, state);
    if (claimed.has(e.task.id)) {
      claimed.delete(e.task.id);
      await adopt(core, held, state);
      continue;
    }
    const again = await claimAgain(core, held);
    if (again) {
      held.task = again;
      await adopt(core, held, state);
    } else if (held.worker && state.repos[held.localRepo]?.agents?.[held.worker]) {
      core.log.log("warn", "task.not_ours", `${e.task.id} is no longer held by this node: stopping its worker ${held.worker}`, { task_id: e.task.id, worker: held.worker });
      await stopWorker(core, held);
    } else if (!held.worker) {
      watchForStray(core, held);
    }
  }
  // Claims the coordinator lists that no entry covers (a claim whose answer was lost, a lost ledger).
  for (const id of claimed) {
    if (core.held.has(id)) continue;
    let task: Task;
    try {
      task = await core.client.getTask(id);
    } catch {
      continue; // the heartbeat loop's check releases it later
    }
    const held: HeldTask = { task, slot: freeSlot(core.held), localRepo: core.repos.toLocal(task.repo), startedAt: Date.parse(task.claimed_at ?? "") || core.now(), phase: "running" };
    held.worker = findNewAgent(core, held, state);
    await adopt(core, held, state);
  }
  core.reconciledFor = registration;
  core.changed();
  return true;
}

/** Holds a task this node has a claim on again: with its worker (live or finished), or released when none exists. */
async function adopt(core: AgentCore, held: HeldTask, state: McState): Promise<void> {
  const fields = { task_id: held.task.id, worker: held.worker };
  if (!held.worker) {
    watchForStray(core, held);
    await releaseHeld(core, { ...held, phase: "stopping" }, "the agent restarted before the worker started");
    return;
  }
  core.held.set(held.task.id, held);
  const live = state.repos[held.localRepo]?.agents?.[held.worker] !== undefined;
  core.log.log("info", "task.adopted", `picked up ${held.task.id} (worker ${held.worker}${live ? "" : ", finished meanwhile"}) from an earlier run`, fields);
}

/** Claims a task again by id after this node's lease on it ran out, if nobody else took it. */
async function claimAgain(core: AgentCore, held: HeldTask): Promise<Task | undefined> {
  try {
    const task = await core.client.getTask(held.task.id);
    if (task.status !== "orphaned" && task.status !== "pending") return undefined;
    return await core.client.claimTask(held.task.id, held.slot);
  } catch (err) {
    if (isTransient(err) || !isApiError(err)) core.log.log("warn", "task.reclaim_failed", `cannot claim ${held.task.id} again: ${errorText(err)}`, { task_id: held.task.id });
    return undefined;
  }
}

function watchForStray(core: AgentCore, held: HeldTask): void {
  core.strays.push({ localRepo: held.localRepo, task: held.task, until: held.startedAt + (core.options.commandTimeoutMs ?? 120_000) + 60_000 });
}

/**
 * Stops workers of tasks this node gave up while their start command may still have been
 * running (the agent was killed mid-start): one that appears, running such a task text, with no
 * held task owning it, would otherwise run unclaimed beside the node that takes the task next.
 */
export async function stopStrays(core: AgentCore, state: McState): Promise<void> {
  const now = core.now();
  core.strays = core.strays.filter((s) => s.until > now);
  for (const stray of [...core.strays]) {
    const worker = findNewAgent(core, { localRepo: stray.localRepo, task: stray.task as Task }, state);
    if (!worker) continue;
    core.strays.splice(core.strays.indexOf(stray), 1);
    core.log.log("warn", "worker.stray", `worker ${worker} runs ${stray.task.id}, which this node gave up: stopping it`, { task_id: stray.task.id, worker });
    await stopWorker(core, { worker, localRepo: stray.localRepo, task: stray.task });
  }
}
