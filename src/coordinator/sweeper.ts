import type { NewEvent } from "../core/types.js";
import { createUnsettledSweep } from "./dependent-settle.js";
import type { NodeService } from "./node-service.js";
import { createRetentionSweep, type RetentionResult } from "./retention-sweep.js";
import type { CoordinatorContext } from "./types.js";
import type { TaskService } from "./task-service.js";

export interface SweepResult extends RetentionResult {
  offline: string[];
  expired: string[];
  /** Waiting tasks made pending (their not_before came). */
  ready: string[];
  /** Ended tasks whose dependents this sweep settled (the replica that ended them did not). */
  settled: string[];
}

/** How many due waiting tasks one sweep makes ready. */
const DUE_BATCH = 1000;

/**
 * Offline detection, lease expiry, scheduled readiness (not_before), retention and the settling
 * of dependents left unsettled. Each move re-checks its condition inside its own
 * transaction, so sweeps running at once (several replicas) move each node or task once.
 */
export function createSweeper(ctx: CoordinatorContext, tasks: TaskService, nodes: NodeService) {
  const sweepRetention = createRetentionSweep(ctx, nodes);
  const sweepUnsettled = createUnsettledSweep(ctx);
  async function markOffline(nodeId: string, cutoffMs: number): Promise<boolean> {
    const ts = ctx.now().toISOString();
    const event = await ctx.store.transact(async (tx) => {
      const node = await tx.getNode(nodeId);
      if (!node || node.status !== "online" || Date.parse(node.last_seen) >= cutoffMs) return undefined;
      tx.putNode({ ...node, status: "offline" });
      const e: NewEvent = { type: "node.offline", data: { node_id: node.id, last_seen: node.last_seen, ts } };
      tx.emit(e);
      return e;
    });
    // Only the replica whose sweep committed it counts it (metrics), so a sum over replicas is right.
    if (event) ctx.observe(event);
    return event !== undefined;
  }

  return async function sweep(): Promise<SweepResult> {
    const now = ctx.now();
    const cutoffMs = now.getTime() - ctx.offlineThresholdMs;
    const offline: string[] = [];
    const expired: string[] = [];
    for (const node of await ctx.store.staleNodes(new Date(cutoffMs).toISOString())) {
      if (await markOffline(node.id, cutoffMs)) offline.push(node.id);
    }
    for (const task of await ctx.store.expiredLeases(now.toISOString())) {
      if (await tasks.expire(task.id)) expired.push(task.id);
    }
    const ready: string[] = [];
    // A bounded batch per sweep (once a second): a burst of due tasks drains over a few sweeps.
    for (const task of await ctx.store.dueTasks(now.toISOString(), DUE_BATCH)) {
      if (await tasks.ready(task.id)) ready.push(task.id);
    }
    const retention = await sweepRetention(now.getTime());
    return { offline, expired, ready, ...retention, settled: await sweepUnsettled(now.getTime()) };
  };
}
