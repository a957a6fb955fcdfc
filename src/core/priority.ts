import { PRIORITIES, type Priority, type Task } from "./types.js";

/** 0 for critical up to 3 for low: lower ranks are served first. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/** Claim order: priority first, then oldest first (task ids sort by creation time). */
export function compareForClaim(a: Pick<Task, "priority" | "id">, b: Pick<Task, "priority" | "id">): number {
  return priorityRank(a.priority) - priorityRank(b.priority) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
