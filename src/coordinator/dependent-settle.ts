import { cancelForDependency, unblock } from "../core/dependencies.js";
import { isCoordError } from "../core/errors.js";
import { isFinal } from "../core/tasks.js";
import type { Task } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import type { CoordinatorContext } from "./types.js";

/**
 * Settling a task's waiting dependents when it ends (DESIGN §11; docs/api.md, Dependencies).
 *
 * The end of a task (complete, final fail, final lease expiry, cancel) readies or cancels its
 * direct dependents in its own atomic write (`endAndSettle`). Should that write lose races on a
 * shared store (a stream of creates naming the task changes its dependents list, a condition of
 * the commit), it is tried again conditioned only on the task (and its node), which creates
 * cannot starve, and its dependents are settled in follow-up writes of at most SETTLE_BATCH
 * dependents each, by the replica that ended it before it answers, and by any replica's sweep
 * should that replica stop in between. Dependents the end cancels have their own dependents
 * settled the same way, after it.
 *
 * Why nothing is missed: a create (or retry) that names a task reads the task's record, and its
 * commit is conditioned on it. So once the end committed, no new dependent can join the task's
 * list (it sees the task ended: completed does not block, failed or cancelled cancels it at
 * create), and every dependent that joined before is in the list the follow-up reads.
 */

/** Dependents settled per follow-up write: the size bound of those writes. */
export const SETTLE_BATCH = 100;
/** How long the sweep leaves a just-ended task's dependents to the replica that ended it. */
export const SETTLE_GRACE_MS = 5_000;
/**
 * How often a replica's sweep looks for unsettled tasks: what it finds is rare (a replica
 * stopped between an end and its follow-up), and on the memory store the look is a scan of the
 * tasks waited on, so not every sweep (SQLite and Redis keep the unsettled tasks in a set).
 */
export const SETTLE_SWEEP_INTERVAL_MS = 10_000;
/** Unsettled tasks one sweep looks at; what is left waits for the next sweep. */
const SWEEP_BATCH = 100;
/** Follow-up writes (of up to SETTLE_BATCH dependents each) one sweep makes at most. */
export const SWEEP_SETTLE_WRITES = 20;
/** Ended tasks a sweep cut short hands to the next sweep of this replica at most. */
const CARRY_MAX = 1_000;

interface BatchOutcome {
  /** The dependents this write looked at (settled, or found settled already). */
  batch: string[];
  /** Those it cancelled: they ended too, so their own dependents are settled next. */
  cancelled: string[];
  more: boolean;
}

/**
 * One follow-up write for task `id`: up to SETTLE_BATCH of its waiting dependents lose it from
 * `blocked_by` (it completed; a record gone was purged by retention, so it counts as completed, as
 * in `dependencyState`) or are cancelled naming it (it failed or was cancelled). `seen`: dependents
 * earlier writes of this settle looked at, never looked at twice.
 */
async function settleBatch(tx: StoreTx, id: string, nowMs: number, seen: ReadonlySet<string>): Promise<BatchOutcome> {
  const [dep, ids] = await Promise.all([tx.getTask(id), tx.listDependents(id)]);
  // Live again (retried after a cancel or failure): its dependents wait for its next end.
  if (dep && !isFinal(dep.status)) return { batch: [], cancelled: [], more: false };
  const fresh = ids.filter((d) => !seen.has(d));
  const batch = fresh.slice(0, SETTLE_BATCH);
  const cancelled = await settleDependents(tx, dep ?? { id, status: "completed" }, batch, nowMs);
  return { batch, cancelled, more: fresh.length > batch.length };
}

/**
 * Readies or cancels, in transaction `tx`, the dependents `ids` of the ended task `cause`
 * (completed: each loses it from `blocked_by`; failed or cancelled: each is cancelled naming
 * it; a dependent gone or settled already is left). Returns those it cancelled.
 */
async function settleDependents(tx: StoreTx, cause: Pick<Task, "id" | "status">, ids: readonly string[], nowMs: number): Promise<string[]> {
  const ts = new Date(nowMs).toISOString();
  const cancelled: string[] = [];
  for (const dependent of await Promise.all(ids.map((d) => tx.getTask(d)))) {
    if (!dependent) continue;
    if (cause.status === "completed") {
      const next = unblock(dependent, cause.id, nowMs);
      if (!next) continue;
      tx.putTask(next.task);
      if (next.event) tx.emit(next.event);
    } else {
      const t = cancelForDependency(dependent, cause, ts);
      if (!t) continue;
      tx.putTask(t.task);
      tx.emit(t.event);
      cancelled.push(t.task.id);
    }
  }
  return cancelled;
}

/**
 * How many tries of an end's transaction settle its direct dependents in the same write, as
 * DESIGN §11 asks ("pending in the same atomic write that completes its last dependency"). The
 * dependents list is then a condition of the commit, so on a shared store a stream of creates
 * naming the task could make the end lose race after race; from the third try the end writes
 * only the task and its dependents are settled after it (`settleQuietly`), so it cannot be
 * starved. Memory and SQLite run a transaction once, so there it is always the same write.
 */
export const INLINE_SETTLE_TRIES = 2;

/**
 * Runs an end (`write` puts the task that ends, and returns it) in one transaction that, on its
 * first INLINE_SETTLE_TRIES tries, also settles the task's direct dependents; then settles what
 * is left (all of them after a later try; the dependents of those it cancelled, transitively).
 * `write` calls `readDependents(taskId)` beside its own reads, so that on Redis the dependents
 * list comes in the same round trip (on a try that does not settle inline it reads nothing).
 */
export async function endAndSettle<T extends Task | undefined>(
  ctx: CoordinatorContext,
  write: (tx: StoreTx, readDependents: (taskId: string) => void) => Promise<T>,
): Promise<T> {
  let tries = 0;
  let cascade: string[] | undefined;
  const ended = await ctx.store.transact(async (tx) => {
    tries++;
    cascade = undefined;
    let read: Promise<readonly string[]> | undefined;
    const inline = tries <= INLINE_SETTLE_TRIES;
    const task = await write(tx, (taskId) => {
      if (!inline) return;
      read = tx.listDependents(taskId);
      // Should `write` throw first (a lost connection, a 404), this read's failure is nobody's:
      // unhandled, it would end the process.
      read.catch(() => {});
    });
    if (task && isFinal(task.status) && read) cascade = await settleDependents(tx, task, await read, ctx.now().getTime());
    return task;
  });
  if (!ended || !isFinal(ended.status)) return ended;
  // Settled in its own write, only the dependents it cancelled may have dependents to settle
  // (no read of its own list again: one Redis round trip less per end).
  if (cascade) await settleQuietly(ctx, cascade);
  else await settleQuietly(ctx, [ended.id]);
  return ended;
}

/** Follow-up writes a settle may still make: unbounded after an end, SWEEP_SETTLE_WRITES in a sweep. */
interface Budget {
  writes: number;
}

/**
 * Settles the waiting dependents of ended task `id` (one level), within `budget`. Returns those
 * it cancelled (ended too: their dependents are next) and whether it got through them all.
 */
async function settleOne(ctx: CoordinatorContext, id: string, budget: Budget): Promise<{ cancelled: string[]; done: boolean }> {
  const cancelled: string[] = [];
  if (budget.writes <= 0) return { cancelled, done: false };
  // The usual end: nothing waits on it, one cheap read and no write. (An ended task gains no
  // dependents, so a count of none stays none.)
  if ((await ctx.store.countDependents(id)) === 0) return { cancelled, done: true };
  const seen = new Set<string>();
  for (let more = true; more; ) {
    if (budget.writes <= 0) return { cancelled, done: false };
    budget.writes--;
    const out = await ctx.store.transact((tx) => settleBatch(tx, id, ctx.now().getTime(), seen));
    for (const d of out.batch) seen.add(d);
    cancelled.push(...out.cancelled);
    more = out.more;
  }
  return { cancelled, done: true };
}

/**
 * Settles the waiting dependents of the ended tasks `ids`, and transitively those of the
 * dependents it cancels, breadth first: each waiting descendant is visited once, so the work is
 * linear in the waiting tasks that depend on them, directly or not. Returns the ended tasks it
 * had no budget left for, in order (the one it stopped in first): all still unsettled.
 */
async function settle(ctx: CoordinatorContext, ids: string[], budget: Budget): Promise<string[]> {
  const queue = [...ids];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    const out = await settleOne(ctx, id, budget);
    queue.push(...out.cancelled);
    if (!out.done) return [id, ...queue];
  }
  return [];
}

/**
 * After an end committed: settles the dependents of the ended tasks `ids` (the end's own, when
 * its write did not settle them, or those of the dependents it cancelled) before the caller is
 * answered. The end stands whatever happens here; should the store fail now, the sweep settles
 * them later.
 */
async function settleQuietly(ctx: CoordinatorContext, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  try {
    await settle(ctx, [...ids], { writes: Infinity });
  } catch (err) {
    if (!isCoordError(err)) throw err;
  }
}

/**
 * The sweep's part (every replica, the look at most every SETTLE_SWEEP_INTERVAL_MS, the first
 * sweep at once): settles the dependents of tasks that ended at least SETTLE_GRACE_MS ago and
 * still have waiting dependents (the replica that ended them stopped, or lost its store, before
 * settling), in at most SWEEP_SETTLE_WRITES follow-up writes per sweep, so a node token cannot
 * make one sweep long (lease expiry and offline detection wait for it). A cascade cut short
 * goes on at the next sweep from the tasks this sweep left (up to CARRY_MAX; any past that, and
 * those of a replica that stops, stay in the store's unsettled tasks for a later look).
 * Each call returns the ended tasks it started from.
 */
export function createUnsettledSweep(ctx: CoordinatorContext): (nowMs: number) => Promise<string[]> {
  let last = -Infinity;
  let carried: string[] = [];
  return async function sweepUnsettled(nowMs) {
    const budget: Budget = { writes: SWEEP_SETTLE_WRITES };
    const started = [...carried];
    let left = await settle(ctx, carried, budget);
    if (left.length === 0 && budget.writes > 0 && nowMs - last >= SETTLE_SWEEP_INTERVAL_MS) {
      last = nowMs;
      const due: string[] = [];
      for (const id of await ctx.store.unsettledTasks(SWEEP_BATCH)) {
        const task = await ctx.store.getTask(id);
        if (task?.completed_at && nowMs - Date.parse(task.completed_at) < SETTLE_GRACE_MS) continue;
        due.push(id);
      }
      started.push(...due);
      left = await settle(ctx, due, budget);
    }
    carried = left.slice(0, CARRY_MAX);
    return started;
  };
}
