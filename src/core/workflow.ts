/**
 * Workflow rules of DESIGN §11 that act on one record: cordoning a node and retrying a finished
 * task. Pure functions like the task state machine (tasks.ts); the coordinator writes the result
 * and its event in one atomic step.
 */
import { CoordError } from "./errors.js";
import { backToPending, taskEvent, type Transition } from "./tasks.js";
import type { NewEvent, NodeRecord, Task, TaskStatus } from "./types.js";

/**
 * Cordons (`on`) or uncordons a node. A cordoned node keeps its claims and gets no new ones
 * (`assertNodeCanClaim`). Idempotent: a node already in that state is returned unchanged with
 * no event, so a script may cordon twice.
 */
export function setCordon(node: NodeRecord, on: boolean, ts: string): { node: NodeRecord; event: NewEvent | null } {
  if ((node.cordoned === true) === on) return { node, event: null };
  return {
    node: { ...node, cordoned: on },
    event: { type: on ? "node.cordoned" : "node.uncordoned", data: { node_id: node.id, claimed_tasks: node.claimed_tasks, ts } },
  };
}

/** How far ahead `not_before` may be (a waiting task is held that long). */
export const MAX_NOT_BEFORE_MS = 366 * 24 * 60 * 60 * 1000;

/** Checks and normalises `not_before` of a new task: an ISO time at most a year ahead of `nowMs`. */
export function parseNotBefore(text: string | undefined, nowMs: number): string | null {
  if (text === undefined) return null;
  const ms = Date.parse(text);
  const bad = (message: string) => new CoordError("INVALID_REQUEST", `not_before: ${message}`, { fields: [{ field: "body.not_before", message }] });
  if (Number.isNaN(ms)) throw bad("must be an ISO time such as 2026-12-01T09:00:00Z");
  if (ms - nowMs > MAX_NOT_BEFORE_MS) throw bad("must be at most a year ahead");
  return new Date(ms).toISOString();
}

/**
 * A waiting task whose `not_before` has come becomes `pending` (event `task.ready`); null when it
 * is not waiting or not due (another sweep got there first). `updated_at` moves, so the claim's
 * `waited_ms` counts from when it became claimable.
 */
export function readyTask(task: Task, nowMs: number): Transition | null {
  if (task.status !== "waiting" || (task.not_before && Date.parse(task.not_before) > nowMs)) return null;
  // Still waiting for a dependency: its completion readies the task (coordinator/dependencies.ts).
  if ((task.blocked_by?.length ?? 0) > 0) return null;
  const ts = new Date(nowMs).toISOString();
  const next: Task = { ...task, status: "pending", updated_at: ts };
  return { task: next, event: taskEvent("task.ready", next, ts, { not_before: task.not_before ?? null }) };
}

/** The statuses `POST /tasks/{id}/retry` takes a task out of. */
export const RETRYABLE_STATUSES: readonly TaskStatus[] = ["failed", "cancelled"];

/**
 * An admin runs a failed or cancelled task again: back to `pending` with its attempts reset and
 * the reason it ended, its result and its cooldown cleared, as if newly created (same id).
 * `blockedBy`: its dependencies not completed yet (see `dependencyState`); with any, the task
 * goes back to `waiting` for them instead.
 */
export function retryTask(task: Task, now: string, blockedBy: string[] = []): Transition {
  if (!RETRYABLE_STATUSES.includes(task.status)) {
    throw new CoordError("TASK_NOT_RETRYABLE", `task is ${task.status}; only a failed or cancelled task can be retried`, {
      task_id: task.id,
      status: task.status,
    });
  }
  const next: Task = {
    ...backToPending(task, now),
    attempts: 0,
    failure_reason: null,
    cancel_reason: null,
    completed_at: null,
    result: null,
    cooldown: null,
    ...(blockedBy.length > 0 ? { status: "waiting" as const, blocked_by: blockedBy } : task.depends_on ? { blocked_by: [] } : {}),
  };
  return { task: next, event: taskEvent("task.retried", next, now, { from: task.status, previous_attempts: task.attempts }) };
}
