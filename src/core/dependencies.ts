/**
 * Task dependencies (DESIGN §11) as pure rules: which dependencies block a task, what a
 * dependent becomes when one of them completes, fails for good or is cancelled. The coordinator
 * (coordinator/dependencies.ts, coordinator/dependent-settle.ts) reads the records and writes the results.
 */
import { CoordError } from "./errors.js";
import { cancelTask, isFinal, type Transition } from "./tasks.js";
import type { Task } from "./types.js";
import { readyTask } from "./workflow.js";

/** How many tasks one task may depend on. */
export const MAX_DEPENDENCIES = 32;

/**
 * How many waiting dependents one task may have: it bounds the follow-up writes that settle
 * them once the task ends (coordinator/dependent-settle.ts), and what a create must count.
 */
export const MAX_DEPENDENTS = 1000;

/** 409 TOO_MANY_DEPENDENTS: `depId` already has `limit` waiting dependents. */
export function tooManyDependentsError(depId: string, limit: number): CoordError {
  return new CoordError("TOO_MANY_DEPENDENTS", `task ${depId} already has ${limit} waiting dependents, the most one task may have`, {
    task_id: depId,
    limit,
    field: "body.depends_on",
  });
}

/** `depends_on` of a new task without repeats, in the order given; 400 past MAX_DEPENDENCIES. */
export function normaliseDependsOn(ids: readonly string[] | undefined): string[] {
  const unique = [...new Set(ids ?? [])];
  if (unique.length > MAX_DEPENDENCIES) {
    const message = `at most ${MAX_DEPENDENCIES} dependencies`;
    throw new CoordError("INVALID_REQUEST", `depends_on: ${message}`, { fields: [{ field: "body.depends_on", message }] });
  }
  return unique;
}

/** How a task's dependencies stand: those not completed yet, and the first one that ended otherwise. */
export interface DependencyState {
  blocked_by: string[];
  /** A dependency that failed for good or was cancelled: the dependent can never run. */
  dead: Task | null;
}

/**
 * Judges dependencies as read (`undefined`: no such task any more). A completed one does not
 * block; a missing one (purged by retention, so it finished long ago) does not either.
 */
export function dependencyState(deps: readonly (Task | undefined)[]): DependencyState {
  const blocked_by: string[] = [];
  let dead: Task | null = null;
  for (const dep of deps) {
    if (!dep || dep.status === "completed") continue;
    if (isFinal(dep.status)) dead ??= dep;
    else blocked_by.push(dep.id);
  }
  return { blocked_by, dead };
}

/** The cancel reason of a task whose dependency ended without completing. */
export function dependencyReason(dep: Pick<Task, "id" | "status">): string {
  return `dependency ${dep.id} ${dep.status}`;
}

/**
 * The dependencies a task is indexed under (dependency → dependents): its `blocked_by` while it
 * is waiting, none otherwise. Every store indexes exactly these, so a dependency that ends finds
 * the dependents it must ready or cancel.
 */
export function waitingOn(task: Task): readonly string[] {
  return task.status === "waiting" ? (task.blocked_by ?? []) : [];
}

/** Whether a task waits for dependencies (as opposed to only its not_before): the sweeper's due index leaves it out. */
export function isBlocked(task: Task): boolean {
  return waitingOn(task).length > 0;
}

/**
 * A dependency of `task` completed: it no longer blocks. Returns the next record and, when that
 * was the last one and not_before has come, the `task.ready` event (the task is pending); null
 * when `task` was not blocked by it (already settled).
 */
export function unblock(task: Task, depId: string, nowMs: number): { task: Task; event: Transition["event"] | null } | null {
  if (task.status !== "waiting" || !task.blocked_by?.includes(depId)) return null;
  const next: Task = { ...task, blocked_by: task.blocked_by.filter((id) => id !== depId) };
  const ready = readyTask(next, nowMs);
  if (ready) return { task: ready.task, event: { ...ready.event, data: { ...ready.event.data, dependency: depId } } };
  return { task: next, event: null };
}

/** A dependency of a waiting task ended without completing: the task is cancelled, naming it. */
export function cancelForDependency(task: Task, dep: Pick<Task, "id" | "status">, ts: string): Transition | null {
  if (task.status !== "waiting") return null;
  const t = cancelTask(task, dependencyReason(dep), ts);
  return { task: t.task, event: { ...t.event, data: { ...t.event.data, dependency: dep.id, dependency_status: dep.status } } };
}

/** The answer when a retry would run a task whose dependency can never complete. */
export function deadDependencyError(task: Task, dep: Task): CoordError {
  return new CoordError("TASK_NOT_RETRYABLE", `task ${task.id} depends on ${dep.id}, which is ${dep.status}; retry that one first`, {
    task_id: task.id,
    status: task.status,
    dependency: dep.id,
    dependency_status: dep.status,
  });
}
