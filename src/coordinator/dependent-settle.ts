import { cancelForDependency, unblock } from "../core/dependencies.js";
import { isCoordError } from "../core/errors.js";
import { isFinal } from "../core/tasks.js";
import type { Task } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import type { CoordinatorContext } from "./types.js";

/**
 * Settling a task's waiting dependents after it ended (DESIGN §11; docs/api.md, Dependencies).
 *
 * The end of a task (complete, final fail, final lease expiry, cancel) is one write conditioned
 * only on the task (and its node): it does not read the dependents list, so creates naming the
 * task, however many and from whichever replica, can never make it lose a race. Its dependents
 * are settled in follow-up writes of at most SETTLE_BATCH dependents each, by the replica that
 * ended it before it answers, and by any replica's sweep should that replica stop in between.
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
  const cause = dep ?? { id, status: "completed" as const };
  const ts = new Date(nowMs).toISOString();
  const cancelled: string[] = [];
  for (const dependent of await Promise.all(batch.map((d) => tx.getTask(d)))) {
    if (!dependent) continue;
    if (cause.status === "completed") {
      const next = unblock(dependent, id, nowMs);
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
  return { batch, cancelled, more: fresh.length > batch.length };
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
 * After a task's end committed: settles its dependents before the caller is answered. The end
 * stands whatever happens here; should the store fail now, the sweep settles them later.
 */
export async function settleAfterEnd(ctx: CoordinatorContext, task: Task | undefined): Promise<void> {
  if (!task || !isFinal(task.status)) return;
  try {
    await settle(ctx, [task.id], { writes: Infinity });
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
