import { PRIORITIES, type Priority } from "./types.js";

/** 0 for critical up to 3 for low: lower ranks are served first. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}
