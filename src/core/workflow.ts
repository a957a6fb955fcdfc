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

/** The statuses `POST /tasks/{id}/retry` takes a task out of. */
export const RETRYABLE_STATUSES: readonly TaskStatus[] = ["failed", "cancelled"];

/**
 * An admin runs a failed or cancelled task again: back to `pending` with its attempts reset and
 * the reason it ended, its result and its cooldown cleared, as if newly created (same id).
 */
export function retryTask(task: Task, now: string): Transition {
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
  };
  return { task: next, event: taskEvent("task.retried", next, now, { from: task.status, previous_attempts: task.attempts }) };
}
