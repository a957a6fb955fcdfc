/**
 * Concurrency keys (DESIGN §11): at most `concurrency_limit` tasks with the same
 * `concurrency_key` are `claimed` at once, across all nodes and replicas. The store counts the
 * claimed tasks of a key inside a transaction (`countClaimedWithKey`); these rules decide.
 */
import { CoordError } from "./errors.js";
import type { CoordEvent, NewEvent, Task } from "./types.js";

/** The highest `concurrency_limit` a task may ask for. */
export const MAX_CONCURRENCY_LIMIT = 10_000;

/** What a task stores: both null without a key; the limit defaults to 1 with one. */
export interface Concurrency {
  concurrency_key: string | null;
  concurrency_limit: number | null;
}

/** Checks `concurrency_key` / `concurrency_limit` of a new task: a limit needs a key (400 otherwise). */
export function parseConcurrency(key: string | undefined, limit: number | undefined): Concurrency {
  const bad = (field: string, message: string) =>
    new CoordError("INVALID_REQUEST", `${field}: ${message}`, { fields: [{ field: `body.${field}`, message }] });
  if (key === undefined) {
    if (limit !== undefined) throw bad("concurrency_limit", "needs a concurrency_key (the limit is per key)");
    return { concurrency_key: null, concurrency_limit: null };
  }
  if (key.length === 0) throw bad("concurrency_key", "must not be empty");
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_CONCURRENCY_LIMIT)) {
    throw bad("concurrency_limit", `must be an integer from 1 to ${MAX_CONCURRENCY_LIMIT}`);
  }
  return { concurrency_key: key, concurrency_limit: limit ?? 1 };
}

/** A key and the limit its tasks ask for: tasks of one group have room, or lack it, together. */
export interface ConcurrencyGroup {
  key: string;
  limit: number;
}

/**
 * The group a claimable task is indexed under (undefined without a key). Stores bucket keyed
 * tasks by group, so a claim passes over a full key by one count per group, however many tasks
 * it has (`groupHasRoom(group, count)` decides for all of them).
 */
export function concurrencyGroup(task: Pick<Task, "concurrency_key" | "concurrency_limit">): ConcurrencyGroup | undefined {
  return task.concurrency_key ? { key: task.concurrency_key, limit: task.concurrency_limit ?? 1 } : undefined;
}

/** Whether one more task of this group may be claimed while `claimedWithKey` tasks of its key are. */
export function groupHasRoom(group: ConcurrencyGroup, claimedWithKey: number): boolean {
  return claimedWithKey < group.limit;
}

/**
 * Whether one more claim of this task stays within its limit, given how many tasks of its key
 * are claimed now. Each task carries its own limit: with different limits under one key, a
 * task is claimable while fewer than *its* limit are claimed.
 */
export function hasConcurrencyRoom(task: Task, claimedWithKey: number): boolean {
  const group = concurrencyGroup(task);
  return !group || groupHasRoom(group, claimedWithKey);
}

/** Refuses a claim that would pass the task's concurrency limit (409 CONCURRENCY_LIMIT). */
export function assertConcurrencyRoom(task: Task, claimedWithKey: number): void {
  if (hasConcurrencyRoom(task, claimedWithKey)) return;
  throw new CoordError(
    "CONCURRENCY_LIMIT",
    `${claimedWithKey} task${claimedWithKey === 1 ? " is" : "s are"} claimed with concurrency_key ${JSON.stringify(task.concurrency_key)} (limit ${task.concurrency_limit ?? 1}); claim it once one of them ends`,
    { task_id: task.id, concurrency_key: task.concurrency_key, concurrency_limit: task.concurrency_limit ?? 1, claimed: claimedWithKey },
  );
}

/** What every event of a keyed task carries, so a replica can tell that a slot of that key may have opened. */
export function concurrencyEventData(task: Task): Record<string, unknown> {
  return task.concurrency_key ? { concurrency_key: task.concurrency_key } : {};
}

const CLAIM_ENDS: readonly string[] = ["task.completed", "task.failed", "task.cancelled", "task.released", "task.orphaned"];

/**
 * Whether this event may have ended a claim of a keyed task (complete, fail, cancel, release,
 * lease expiry; forgetting or deregistering a node releases): another task of that key may be
 * claimable now, so long polls must be woken.
 */
export function endsKeyedClaim(event: CoordEvent | NewEvent): boolean {
  return typeof event.data.concurrency_key === "string" && CLAIM_ENDS.includes(event.type);
}
