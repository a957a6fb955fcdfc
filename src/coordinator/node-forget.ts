import { CoordError } from "../core/errors.js";
import { nodeForgettable } from "../core/retention.js";
import { releaseTask } from "../core/tasks.js";
import type { NodeRecord } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import type { CoordinatorContext } from "./types.js";

/** Gives the node's claimed tasks back to pending (deregistering, forgetting); returns their ids. */
export async function releaseClaims(tx: StoreTx, node: NodeRecord, reason: string, ts: string): Promise<string[]> {
  const released: string[] = [];
  for (const id of node.claimed_tasks) {
    const task = await tx.getTask(id);
    if (!task || task.status !== "claimed" || task.claimed_node !== node.id) continue;
    const t = releaseTask(task, node.id, reason, ts);
    tx.putTask(t.task);
    tx.emit(t.event);
    released.push(id);
  }
  return released;
}

/** How many undelivered messages of a node being forgotten go per transaction. */
const FORGET_MESSAGE_BATCH = 100;

/** What forgetting a node did. */
export interface ForgetResult {
  node_id: string;
  released_tasks: string[];
}

/** Forgetting nodes (DESIGN §10): by the retention sweep, or at once by an admin. */
export function createNodeForgetting(ctx: CoordinatorContext) {
  const { store } = ctx;

  /**
   * Forgets a node: its undelivered messages go (in small batches), then, in one atomic write,
   * its claims are released, the node is removed and `node.forgotten` is emitted. With
   * `cutoffMs` (the sweeper) it happens only while the node is still forgettable, re-checked
   * in every transaction; without (DELETE /nodes/{id}) at once. Returns whether this call
   * forgot it: of sweeps running at once on several replicas, exactly one does.
   */
  async function forget(nodeId: string, opts: { cutoffMs?: number } = {}): Promise<ForgetResult | null> {
    const reason = opts.cutoffMs === undefined ? "forgotten by an admin" : "node forgotten after registration.forget_after";
    /** The node as this transaction sees it, if it is still to be forgotten. */
    const target = async (tx: Pick<StoreTx, "getNode">): Promise<NodeRecord | undefined> => {
      const node = await tx.getNode(nodeId);
      if (!node && opts.cutoffMs === undefined) throw new CoordError("NODE_NOT_FOUND", `node ${nodeId} not found`, { node_id: nodeId });
      if (!node || (opts.cutoffMs !== undefined && !nodeForgettable(node, opts.cutoffMs))) return undefined;
      return node;
    };
    const dropMessages = async (tx: StoreTx, ids: string[]) => {
      for (const m of await Promise.all(ids.map((id) => tx.getMessage(id)))) {
        if (m && m.status === "pending" && m.to_node === nodeId) tx.deleteMessage(m.id);
      }
    };
    if (!(await target(store))) return null;
    for (;;) {
      const ids = (await store.listMessages({ to_node: nodeId, status: "pending", limit: FORGET_MESSAGE_BATCH })).map((m) => m.id);
      if (ids.length < FORGET_MESSAGE_BATCH) {
        // The last few go in the same write as the node.
        return store.transact(async (tx) => {
          const node = await target(tx);
          if (!node) return null;
          const ts = ctx.now().toISOString();
          await dropMessages(tx, ids);
          const released = await releaseClaims(tx, node, reason, ts);
          tx.deleteNode(node.id);
          tx.emit({ type: "node.forgotten", data: { node_id: node.id, released_tasks: released, last_seen: node.last_seen, reason, ts } });
          return { node_id: node.id, released_tasks: released };
        });
      }
      const still = await store.transact(async (tx) => {
        if (!(await target(tx))) return false;
        await dropMessages(tx, ids);
        return true;
      });
      if (!still) return null;
    }
  }

  return {
    forget,

    /** DELETE /nodes/{id}: forgets the node at once; NODE_NOT_FOUND when there is none. */
    async forgetNow(nodeId: string): Promise<ForgetResult> {
      const done = await forget(nodeId);
      if (!done) throw new CoordError("NODE_NOT_FOUND", `node ${nodeId} not found`, { node_id: nodeId });
      return done;
    },
  };
}
