import type { AgentCore } from "./agent-core.js";
import { errorText } from "./context.js";
import { claimableRepos } from "./claim-loop.js";
import { stopStrays } from "./reconcile.js";
import { checkWorkers, releaseHeld } from "./task-runner.js";

/**
 * First SIGTERM/SIGINT: no new claims (the claim in flight is aborted), report `draining`, let
 * workers finish for the grace period (the watch loop enforces it). Before the agent runs, it
 * just stops.
 */
export function startDrain(core: AgentCore, reason: string): void {
  const phase = core.phase();
  if (phase === "stopped" || phase === "draining") return;
  if (phase === "created" || phase === "registering") {
    core.setStopped();
    return;
  }
  core.setPhase("draining");
  core.drainStartedAt = core.now();
  core.claimAbort?.abort(new Error("draining"));
  core.log.log(
    "info",
    "agent.draining",
    `${reason}: draining (no new claims); waiting up to ${Math.round(core.options.gracePeriodMs / 1000)}s for ${core.held.size} running task(s)`,
    { held: core.held.size, grace_period_ms: core.options.gracePeriodMs },
  );
  core.wake.heartbeat.wake();
  core.wake.watch.wake();
  core.wake.claim.wake();
}

/** Second signal: leave now. Held tasks stay claimed until their leases run out (workers keep running; the ledger remembers them). */
export function stopAtOnce(core: AgentCore, reason: string): void {
  if (core.isStopped()) return;
  core.immediate = true;
  core.log.log("warn", "agent.stopping", `${reason}: stopping at once; ${core.held.size} task(s) left to lease expiry`, { held: core.held.size });
  core.claimAbort?.abort(new Error("stopping"));
  // Requests in flight (a long poll, retries during an outage) must not hold the exit up.
  core.client.transport.pool.destroy().catch(() => {});
  core.setStopped();
}

/**
 * The watch loop: reads state.json every check interval and reports finished workers. While
 * draining, it stops the agent once no task is held, or releases what is still held when the
 * grace period is over.
 */
export async function watchLoop(core: AgentCore): Promise<void> {
  while (!core.isStopped()) {
    const state = core.readState();
    await checkWorkers(core, state);
    await stopStrays(core, state);
    if (core.phase() === "running" && claimableRepos(core).join(",") !== core.claimingFor) {
      // multiclaude initialised (or dropped) a repo: the claim in flight must use the new set.
      core.claimAbort?.abort(new Error("repos changed"));
      core.wake.claim.wake();
    }
    if (core.phase() === "draining") {
      if (core.held.size === 0) {
        core.log.log("info", "agent.drained", "all tasks finished");
        core.setStopped();
        break;
      }
      if (core.now() - core.drainStartedAt >= core.options.gracePeriodMs) {
        core.log.log("warn", "agent.grace_over", `grace period over; releasing ${core.held.size} task(s)`, { held: core.held.size });
        for (const held of [...core.held.values()]) await releaseHeld(core, held, "agent shut down before the worker finished");
        core.setStopped();
        break;
      }
    }
    await core.wake.watch.wait(core.options.checkIntervalMs);
  }
}

/** After draining: leave the coordinator (which also releases anything still claimed). */
export async function leave(core: AgentCore): Promise<void> {
  core.saveLedger();
  try {
    await core.client.deregister();
    core.log.log("info", "agent.deregistered", `deregistered node ${core.options.nodeId}`);
  } catch (err) {
    core.log.log("warn", "agent.deregister_failed", `could not deregister (${errorText(err)}); the node goes offline by itself`);
  }
}
