import type { CoordEvent } from "../core/types.js";
import { createBufferedTx, createWriteSet, deleteRecord, isEmptyWriteSet, putRecord, type WriteSet } from "./buffered-tx.js";
import { createEventListeners } from "./event-listeners.js";
import type { EventListener, StoreTx, StoreTxReads } from "./types.js";

export interface GroupTransactOptions {
  /** The store's committed state. */
  reads: StoreTxReads;
  /**
   * What the transactions of a batch read: the committed state under the batch's writes that
   * are not committed yet. Default: `createBufferedTx(reads, batch)`.
   */
  batchReads?(batch: WriteSet): StoreTxReads;
  /** Applies the merged, non-empty write set of a batch in one atomic step; returns its events with their ids. */
  commit(batch: WriteSet): CoordEvent[];
  /** Runs before each transaction (e.g. throws once the store is closed). */
  check?(): void;
  /** Most transactions in one batch (default 64). */
  maxBatch?: number;
  /**
   * After this long without a batch (ms, default 1), the next one starts at once instead of on
   * the next turn of the event loop: an idle store gains nothing by waiting for company.
   */
  idleMs?: number;
}

type Job =
  | { kind: "tx"; fn: (tx: StoreTx) => Promise<unknown>; resolve(value: unknown): void; reject(err: unknown): void }
  | { kind: "step"; step: () => Promise<unknown>; resolve(value: unknown): void; reject(err: unknown): void };

/** Later writes (and deletes) of a record replace earlier ones; events keep their order. */
function mergeInto(batch: WriteSet, ws: WriteSet): void {
  for (const kind of ["nodes", "tasks", "messages"] as const) {
    for (const id of ws.deleted[kind]) deleteRecord(batch, kind, id);
  }
  for (const n of ws.nodes.values()) putRecord(batch, "nodes", n);
  for (const t of ws.tasks.values()) putRecord(batch, "tasks", t);
  for (const m of ws.messages.values()) putRecord(batch, "messages", m);
  for (const [name, r] of ws.repos) batch.repos.set(name, r);
  for (const e of ws.events) batch.events.push(e);
}

/**
 * `transact` of a single-process store with group commit. Transactions still run their `fn` one
 * at a time, in call order, each over a stable state; but the transactions queued together form
 * a batch: each reads through the writes of the batch's earlier ones, and the whole batch is
 * written in ONE atomic commit. Only after that commit does any transaction of the batch return
 * (a change is durable before it is answered), and the listeners get the batch's events once,
 * in id order. A transaction whose `fn` throws contributes nothing (its error, too, is given
 * after the commit); if the commit throws, every transaction of the batch is rejected with the
 * commit's error and nothing of the batch is kept.
 *
 * A batch starts on the next turn of the event loop (`setImmediate`), so requests that arrive
 * together join one batch (unless the store was idle: then at once); it ends at `maxBatch`
 * transactions or when the queue is empty.
 */
export function createGroupTransact(options: GroupTransactOptions) {
  const { reads, commit, check } = options;
  const batchReads = options.batchReads ?? ((batch: WriteSet) => createBufferedTx(reads, batch));
  const maxBatch = options.maxBatch ?? 64;
  const idleMs = options.idleMs ?? 1;
  const listeners = createEventListeners();
  const queue: Job[] = [];
  let scheduled = false;
  let lastBatchEnd = 0;

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    if (performance.now() - lastBatchEnd > idleMs) queueMicrotask(() => void drain());
    else setImmediate(() => void drain());
  }

  /** Runs one batch (or one step), then lets I/O in before the next. */
  async function drain(): Promise<void> {
    try {
      const head = queue[0];
      if (head?.kind === "step") {
        queue.shift();
        try {
          head.resolve(await head.step());
        } catch (err) {
          head.reject(err);
        }
      } else if (head) {
        await runBatch();
      }
    } finally {
      lastBatchEnd = performance.now();
      scheduled = false;
      if (queue.length > 0) schedule();
    }
  }

  async function runBatch(): Promise<void> {
    const batch = createWriteSet();
    const base = batchReads(batch);
    // Every answer waits for the commit, refusals too: a refusal (TASK_CLAIMED, say) may rest
    // on a write of this batch, and read-only transactions may have read the batch's writes.
    const members: { job: Job; ok: boolean; value: unknown }[] = [];
    for (let taken = 0; taken < maxBatch && queue[0]?.kind === "tx"; taken++) {
      const job = queue.shift() as Extract<Job, { kind: "tx" }>;
      const ws = createWriteSet();
      try {
        check?.();
        const result = await job.fn(createBufferedTx(base, ws));
        mergeInto(batch, ws);
        members.push({ job, ok: true, value: result });
      } catch (err) {
        members.push({ job, ok: false, value: err });
      }
    }
    let events: CoordEvent[] = [];
    if (!isEmptyWriteSet(batch)) {
      try {
        events = commit(batch);
      } catch (err) {
        for (const m of members) m.job.reject(err);
        return;
      }
    }
    listeners.emit(events);
    for (const m of members) {
      if (m.ok) m.job.resolve(m.value);
      else m.job.reject(m.value);
    }
  }

  return {
    transact<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ kind: "tx", fn, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    /** Runs `step` alone, between batches (e.g. closing the database). */
    serial<T>(step: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ kind: "step", step, resolve: resolve as (v: unknown) => void, reject });
        schedule();
      });
    },
    onEvents(listener: EventListener): () => void {
      return listeners.add(listener);
    },
  };
}
