import { cancelForDependency, unblock } from "../core/dependencies.js";
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
 * `task` was just written in `tx`. If it completed, its waiting dependents lose it from
 * `blocked_by`, and those left with none (and whose not_before came) become pending with
 * `task.ready`. If it failed for good or was cancelled, its waiting dependents are cancelled
 * naming it, and theirs in turn (dependencies form no cycle: they exist before the task that
 * names them). All in the same transaction, so no dependent is left waiting for a task that ended.
 */
export async function settleDependents(tx: StoreTx, task: Task, nowMs: number): Promise<void> {
  if (task.status === "completed") {
    for (const id of await tx.listDependents(task.id)) {
      const dependent = await tx.getTask(id);
      const next = dependent && unblock(dependent, task.id, nowMs);
      if (!next) continue;
      tx.putTask(next.task);
      if (next.event) tx.emit(next.event);
    }
    return;
  }
  if (task.status !== "failed" && task.status !== "cancelled") return;
  const ts = new Date(nowMs).toISOString();
  // Breadth first: each cancelled dependent's own dependents are cancelled next, naming it.
  const ended: Task[] = [task];
  for (let i = 0; i < ended.length; i++) {
    for (const id of await tx.listDependents(ended[i]!.id)) {
      const dependent = await tx.getTask(id);
      const t = dependent && cancelForDependency(dependent, ended[i]!, ts);
      if (!t) continue;
      tx.putTask(t.task);
      tx.emit(t.event);
      ended.push(t.task);
    }
  }
}
