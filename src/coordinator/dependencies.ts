import { tooManyDependentsError } from "../core/dependencies.js";
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
