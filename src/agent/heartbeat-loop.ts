import type { AgentCore } from "./agent-core.js";
import { errorText, isTransient } from "./context.js";
import { reportAgents, reportRepos, type HeldSummary } from "./heartbeat-report.js";
import type { MetricsSampler } from "./metrics.js";
import { createOpenPrCounter } from "./open-prs.js";
import { reconcile } from "./reconcile.js";
import { cancelTasks } from "./task-runner.js";
import { backoff } from "./wait.js";

export interface HeartbeatLoopOptions {
  metrics: MetricsSampler;
  /** Fetches and delivers pending messages (called when a heartbeat answer says some wait). */
  deliver: () => Promise<void>;
}

/**
 * The heartbeat loop: every interval (backing off while the coordinator is unreachable) sends
 * metrics, multiclaude's agents, open PRs and held tasks, which renews the node's leases; acts
 * on the answer (cancelled tasks, pending messages); and releases claims the coordinator lists
 * for this node that no worker here runs. Resolves once the agent is stopped.
 */
export function createHeartbeatLoop(core: AgentCore, options: HeartbeatLoopOptions): () => Promise<void> {
  let failures = 0;
  let reconciling = false;
  const openPrs = createOpenPrCounter({ multiclaudeHome: core.options.multiclaudeHome, env: core.env, now: () => core.now() });
  /** Claims the coordinator lists for this node that we do not hold, seen at the last check. */
  let unknownClaims = new Set<string>();

  const heldSummaries = (): HeldSummary[] =>
    [...core.held.values()].map((h) => ({
      taskId: h.task.id,
      localRepo: h.localRepo,
      worker: h.worker,
    }));

  async function heartbeatOnce(): Promise<void> {
    const state = core.readState();
    try {
      const res = await core.client.heartbeat({
        status: core.phase() === "draining" ? "draining" : "healthy",
        agents: reportAgents(state, heldSummaries(), core.repos),
        metrics: options.metrics.sample(),
        repos: reportRepos(state, core.repos, (r) => openPrs.count(r, state)),
        capacity: { current_workers: core.held.size },
      });
      if (failures > 0) {
        core.log.log("info", "coordinator.reachable", `coordinator reachable again after ${failures} failed heartbeat(s)`);
        core.wake.claim.wake(); // a claim loop in backoff need not wait any longer
      }
      failures = 0;
      // Stop commands run beside the heartbeats: leases must not wait for them.
      if (res.cancelled_task_ids.length) core.track(cancelTasks(core, res.cancelled_task_ids));
      if (res.pending_messages > 0) core.track(options.deliver());
      if (core.client.registrationId !== core.reconciledFor && !reconciling) {
        // Re-registered (the coordinator forgot this node), or the start could not check: agree
        // again, beside the heartbeats (it may run stop commands; leases must not wait for them).
        reconciling = true;
        const settled = [...core.held.values()].filter((h) => h.phase === "running");
        core.track(reconcile(core, settled).then(() => undefined).finally(() => (reconciling = false)));
      }
      await reconcileClaims();
    } catch (err) {
      failures++;
      if (failures === 1 || failures % 10 === 0) {
        const level = isTransient(err) ? "warn" : "error";
        core.log.log(level, "coordinator.unreachable", `heartbeat failed (${errorText(err)}); workers keep running, retrying with backoff`, { failures });
      }
    }
  }

  /**
   * Claims the coordinator lists for this node but this process does not hold (a claim whose
   * answer was lost, an earlier run's task without a ledger entry) would be renewed by every
   * heartbeat forever. One seen at two checks in a row is released.
   */
  async function reconcileClaims(): Promise<void> {
    if (core.isStopped()) return;
    let claimed: string[];
    try {
      claimed = (await core.client.getNode(core.options.nodeId)).claimed_tasks;
    } catch {
      return;
    }
    const unknown = claimed.filter((id) => !core.held.has(id));
    const next = new Set<string>();
    for (const id of unknown) {
      if (!unknownClaims.has(id)) {
        next.add(id);
        continue;
      }
      try {
        await core.client.releaseTask(id, { reason: "claimed by this node but not running here" });
        core.log.log("warn", "task.released", `released ${id}: the coordinator lists it as ours but no worker here runs it`, { task_id: id });
      } catch (err) {
        if (isTransient(err)) next.add(id);
      }
    }
    unknownClaims = next;
  }

  return async function heartbeatLoop(): Promise<void> {
    while (!core.isStopped()) {
      await heartbeatOnce();
      if (core.isStopped()) break;
      await core.wake.heartbeat.wait(failures ? backoff(failures, core.heartbeatMs, 4 * core.heartbeatMs) : core.heartbeatMs);
    }
  };
}
