import { messagePurgeable, retentionCutoff, taskPurgeable } from "../core/retention.js";
import type { Message, Task } from "../core/types.js";
import type { Store, StoreTx } from "../store/types.js";
import type { NodeService } from "./node-service.js";
import type { CoordinatorContext } from "./types.js";

/** Records removed per transaction: small writes, so purging never stalls other requests. */
export const PURGE_BATCH = 100;
/** Batches of each kind per sweep; what is left waits for the next sweep. */
const MAX_BATCHES = 10;

export interface RetentionResult {
  purged_tasks: number;
  purged_messages: number;
  forgotten: string[];
}

/**
 * Retention (DESIGN §10): finished tasks after `tasks.retention`, acked messages after
 * `messages.retention`, nodes not online after `registration.forget_after`. Candidates come from
 * the store's time indexes; each is re-checked against the rule inside the transaction that
 * removes it, so sweeps running at once (several replicas) remove each record once and a node
 * is forgotten (and announced) once.
 */
/** One kind of record that retention removes: where its candidates come from, how it is read, the rule. */
interface PurgeKind<R extends Task | Message> {
  list(store: Store, before: string, limit: number, skip: number): Promise<R[]>;
  read(tx: StoreTx, id: string): Promise<R | undefined>;
  purgeable(record: R, cutoffMs: number): boolean;
  remove(tx: StoreTx, id: string): void;
}

const TASKS: PurgeKind<Task> = {
  list: (store, before, limit, skip) => store.finishedTasks(before, limit, skip),
  // A task whose waiting dependents are not settled yet stays until they are (see
  // dependent-settle.ts): they are settled by what it ended as, which its record says.
  read: async (tx, id) => {
    const [task, dependents] = await Promise.all([tx.getTask(id), tx.countDependents(id)]);
    return dependents > 0 ? undefined : task;
  },
  purgeable: taskPurgeable,
  remove: (tx, id) => tx.deleteTask(id),
};

const MESSAGES: PurgeKind<Message> = {
  list: (store, before, limit, skip) => store.ackedMessages(before, limit, skip),
  read: (tx, id) => tx.getMessage(id),
  purgeable: messagePurgeable,
  remove: (tx, id) => tx.deleteMessage(id),
};

export function createRetentionSweep(ctx: CoordinatorContext, nodes: NodeService) {
  const { store } = ctx;

  /** Removes up to MAX_BATCHES batches of one kind of record finished before `cutoffMs`; returns how many went. */
  async function purge<R extends Task | Message>(kind: PurgeKind<R>, cutoffMs: number | null): Promise<number> {
    let total = 0;
    // Candidates kept (a task whose dependents wait) stay the oldest: later pages start past them.
    let kept = 0;
    for (let i = 0; cutoffMs !== null && i < MAX_BATCHES; i++) {
      const candidates = await kind.list(store, new Date(cutoffMs).toISOString(), PURGE_BATCH, kept);
      if (candidates.length === 0) break;
      const purged = await store.transact(async (tx) => {
        const fresh = await Promise.all(candidates.map((c) => kind.read(tx, c.id)));
        let n = 0;
        for (const r of fresh) {
          if (r && kind.purgeable(r, cutoffMs)) {
            kind.remove(tx, r.id);
            n++;
          }
        }
        return n;
      });
      total += purged;
      kept += candidates.length - purged;
      if (candidates.length < PURGE_BATCH) break;
    }
    return total;
  }

  return async function sweepRetention(nowMs: number): Promise<RetentionResult> {
    const { tasksMs, messagesMs, forgetAfterMs } = ctx.retention;
    const forgotten: string[] = [];
    const nodeCutoff = retentionCutoff(nowMs, forgetAfterMs);
    if (nodeCutoff !== null) {
      // One transaction per node: its claims are released in the same write that removes it.
      for (const node of await store.idleNodes(new Date(nodeCutoff).toISOString(), PURGE_BATCH)) {
        if (await nodes.forget(node.id, { cutoffMs: nodeCutoff })) forgotten.push(node.id);
      }
    }
    return {
      purged_tasks: await purge(TASKS, retentionCutoff(nowMs, tasksMs)),
      purged_messages: await purge(MESSAGES, retentionCutoff(nowMs, messagesMs)),
      forgotten,
    };
  };
}
