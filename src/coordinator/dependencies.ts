import { cancelForDependency, tooManyDependentsError, unblock } from "../core/dependencies.js";
import { CoordError } from "../core/errors.js";
import type { Task } from "../core/types.js";
import type { StoreTx } from "../store/types.js";

/** Reads the dependencies a new task names; 404 TASK_NOT_FOUND naming the first one missing. */
export async function readDependencies(tx: Pick<StoreTx, "getTask">, ids: readonly string[]): Promise<Task[]> {
  const deps = await Promise.all(ids.map((id) => tx.getTask(id)));
  return deps.map((dep, i) => {
    if (!dep) throw new CoordError("TASK_NOT_FOUND", `dependency ${ids[i]} not found`, { task_id: ids[i], field: "body.depends_on" });
    return dep;
  });
}

/**
 * Below this many waiting dependents short of the cap, a create trusts the cheap count, which
 * is no commit condition, so creates naming one task do not conflict with each other on Redis.
 * From here on it reads the exact list, a condition: racing creates there are serialised.
 */
const EXACT_COUNT_MARGIN = 100;

/**
 * Refuses a new dependent of a task that already has `limit` waiting ones (409
 * TOO_MANY_DEPENDENTS). `blockedBy` are the new task's unfinished dependencies, read in parallel.
 */
export async function checkDependentsRoom(tx: Pick<StoreTx, "listDependents" | "countDependents">, blockedBy: readonly string[], limit: number): Promise<void> {
  const count = async (id: string) => {
    const n = await tx.countDependents(id);
    return n < limit - EXACT_COUNT_MARGIN ? n : (await tx.listDependents(id)).length;
  };
  const counts = await Promise.all(blockedBy.map(count));
  const full = counts.findIndex((n) => n >= limit);
  if (full >= 0) throw tooManyDependentsError(blockedBy[full]!, limit);
}

/** Reads the records of `ids` in parallel, so a Redis transaction takes one round trip, not one per id. */
function readAll(tx: StoreTx, ids: readonly string[]): Promise<(Task | undefined)[]> {
  return Promise.all(ids.map((id) => tx.getTask(id)));
}

/**
 * `task` was just written in `tx`. If it completed, its waiting dependents lose it from
 * `blocked_by`, and those left with none (and whose not_before came) become pending with
 * `task.ready`. If it failed for good or was cancelled, its waiting dependents are cancelled
 * naming it, and theirs in turn (dependencies form no cycle: they exist before the task that
 * names them). All in the same transaction, so no dependent is left waiting for a task that ended.
 *
 * Bounds: a task has at most `maxDependents` waiting dependents (checked at create), and each
 * level of the cascade is read in parallel. The cancel cascade visits each waiting descendant
 * once (a cancelled one is no longer waiting, so a diamond does not repeat it): its work is
 * linear in the waiting tasks that depend on `task`, directly or not.
 */
export async function settleDependents(tx: StoreTx, task: Task, nowMs: number): Promise<void> {
  if (task.status === "completed") {
    for (const dependent of await readAll(tx, await tx.listDependents(task.id))) {
      const next = dependent && unblock(dependent, task.id, nowMs);
      if (!next) continue;
      tx.putTask(next.task);
      if (next.event) tx.emit(next.event);
    }
    return;
  }
  if (task.status !== "failed" && task.status !== "cancelled") return;
  const ts = new Date(nowMs).toISOString();
  // Breadth first, one level at a time: the level's dependents lists, then their records, each
  // read in parallel; a dependent is cancelled naming the first task of the level that ended it.
  let level: Task[] = [task];
  while (level.length > 0) {
    const lists = await Promise.all(level.map((t) => tx.listDependents(t.id)));
    const causes = new Map<string, Task>();
    lists.forEach((ids, i) => ids.forEach((id) => causes.has(id) || causes.set(id, level[i]!)));
    const ids = [...causes.keys()];
    const next: Task[] = [];
    (await readAll(tx, ids)).forEach((dependent, i) => {
      const t = dependent && cancelForDependency(dependent, causes.get(ids[i]!)!, ts);
      if (!t) return;
      tx.putTask(t.task);
      tx.emit(t.event);
      next.push(t.task);
    });
    level = next;
  }
}
