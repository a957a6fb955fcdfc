import { isFinal } from "./tasks.js";
import type { Message, NodeRecord, Task } from "./types.js";

const DAY_MS = 86_400_000;

/** How long finished records are kept (ms); 0 keeps them forever (DESIGN §10). */
export interface RetentionPolicy {
  /** Finished tasks (completed, failed, cancelled), counted from `completed_at`: `tasks.retention`. */
  tasksMs: number;
  /** Acked messages, counted from `acked_at`: `messages.retention`. */
  messagesMs: number;
  /** Nodes deregistered or offline, counted from `last_seen`: `registration.forget_after`. */
  forgetAfterMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { tasksMs: 30 * DAY_MS, messagesMs: 7 * DAY_MS, forgetAfterMs: 7 * DAY_MS };

/** The time (ms) before which records of a kind are purged, or null when that kind is kept forever. */
export function retentionCutoff(nowMs: number, keepMs: number): number | null {
  return keepMs > 0 ? nowMs - keepMs : null;
}

/** A task is purged once it finished before the cutoff; unfinished tasks never are. */
export function taskPurgeable(task: Task, cutoffMs: number): boolean {
  return isFinal(task.status) && task.completed_at !== null && Date.parse(task.completed_at) < cutoffMs;
}

/** A message is purged once acked before the cutoff; a message nobody acked stays for its recipient. */
export function messagePurgeable(message: Message, cutoffMs: number): boolean {
  return message.status === "acked" && message.acked_at !== null && Date.parse(message.acked_at) < cutoffMs;
}

/** A node is forgotten when it is not online and gave no sign of life since the cutoff. */
export function nodeForgettable(node: NodeRecord, cutoffMs: number): boolean {
  return node.status !== "online" && Date.parse(node.last_seen) < cutoffMs;
}
