/**
 * The task state machine. Each transition is a pure function from the current record to the
 * next one plus the event that announces it; the coordinator writes both in one atomic step.
 *
 *   waiting → pending (not_before came, last dependency completed; see workflow.ts, dependencies.ts)
 *   pending → claimed → completed | failed
 *   claimed → pending (release, or fail with retry and no backoff)
 *   claimed → waiting (fail with retry, for tasks.retry_backoff) → pending
 *   claimed → orphaned (lease ran out) → claimed
 *   any unfinished state → cancelled
 */
import { assertConcurrencyRoom, concurrencyEventData } from "./concurrency.js";
import { CoordError } from "./errors.js";
import { labelsSatisfied, missingLabels } from "./labels.js";
import type { EventType, Labels, NewEvent, NodeRecord, Priority, Task, TaskStatus } from "./types.js";

export const FINAL_STATUSES: readonly TaskStatus[] = ["completed", "failed", "cancelled"];
export const CLAIMABLE_STATUSES: readonly TaskStatus[] = ["pending", "orphaned"];

export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function isClaimable(status: TaskStatus): boolean {
  return CLAIMABLE_STATUSES.includes(status);
}

/** Most tasks one batch create (`POST /tasks/batch`) takes: one transaction, so one bound. */
export const MAX_BATCH_TASKS = 1000;

/** How long a node that gave a task back is not offered it again by a claim of the next task. */
export const RECLAIM_COOLDOWN_MS = 30_000;

/** Whether `POST /tasks/claim` skips this task for this node now (it gave the task back lately). */
export function coolingDown(task: Task, nodeId: string, nowMs: number): boolean {
  const c = task.cooldown;
  return !!c && c.node_id === nodeId && Date.parse(c.until) > nowMs;
}

function cooldownFor(nodeId: string, now: string): Task["cooldown"] {
  return { node_id: nodeId, until: new Date(Date.parse(now) + RECLAIM_COOLDOWN_MS).toISOString() };
}

/**
 * The repos a claim may take tasks of: `repo` and `repos` both narrow (an empty list matches
 * nothing); undefined when neither is given (every repo).
 */
export function repoFilter(repo: string | undefined, repos: readonly string[] | undefined): string[] | undefined {
  if (repos === undefined) return repo === undefined ? undefined : [repo];
  const set = [...new Set(repos)];
  return repo === undefined ? set : set.filter((r) => r === repo);
}

export interface NewTaskInput {
  repo: string;
  description: string;
  priority: Priority;
  labels: Labels;
  max_attempts: number;
  idempotency_key: string | null;
  /** ISO time (normalised); a task created before it is `waiting` until then. */
  not_before?: string | null;
  /** See `parseConcurrency`: both null without a key. */
  concurrency_key?: string | null;
  concurrency_limit?: number | null;
  /** Its dependencies (deduplicated), and those of them not completed yet: while any, it is `waiting`. */
  depends_on?: string[];
  blocked_by?: string[];
}

export interface Transition {
  task: Task;
  event: NewEvent;
}

export function taskEvent(type: EventType, task: Task, now: string, extra: Record<string, unknown> = {}): NewEvent {
  return { type, data: { task_id: task.id, repo: task.repo, status: task.status, ...concurrencyEventData(task), ...extra, ts: now } };
}

export function createTask(id: string, input: NewTaskInput, now: string): Transition {
  const task: Task = {
    id,
    ...input,
    not_before: input.not_before ?? null,
    concurrency_key: input.concurrency_key ?? null,
    concurrency_limit: input.concurrency_key ? (input.concurrency_limit ?? 1) : null,
    depends_on: input.depends_on ?? [],
    blocked_by: input.blocked_by ?? [],
    status: (input.blocked_by?.length ?? 0) > 0 || (input.not_before && Date.parse(input.not_before) > Date.parse(now)) ? "waiting" : "pending",
    attempts: 0,
    created_at: now,
    updated_at: now,
    claimed_by: null,
    claimed_node: null,
    worker_name: null,
    claimed_at: null,
    lease_expires_at: null,
    completed_at: null,
    result: null,
    failure_reason: null,
    cancel_reason: null,
    cooldown: null,
  };
  const event = taskEvent("task.created", task, now, {
    description: task.description,
    priority: task.priority,
    labels: task.labels,
    ...(task.not_before ? { not_before: task.not_before } : {}),
    ...(task.concurrency_key ? { concurrency_limit: task.concurrency_limit } : {}),
    ...(task.depends_on!.length > 0 ? { depends_on: task.depends_on, blocked_by: task.blocked_by } : {}),
  });
  return { task, event };
}

/** Whether this node may take new work at all (liveness, its own health, capacity). */
export function assertNodeCanClaim(node: NodeRecord): void {
  if (node.status !== "online") {
    throw new CoordError("NODE_OFFLINE", `node ${node.id} is ${node.status}; heartbeat before claiming`, {
      node_id: node.id,
      status: node.status,
    });
  }
  if (node.health === "draining") {
    throw new CoordError("NODE_OFFLINE", `node ${node.id} is draining and takes no new tasks`, {
      node_id: node.id,
      health: node.health,
    });
  }
  if (node.cordoned) {
    throw new CoordError("NODE_CORDONED", `node ${node.id} is cordoned and takes no new tasks; uncordon it to give it work`, { node_id: node.id });
  }
  if (node.claimed_tasks.length >= node.capacity.max_workers) {
    throw new CoordError("NODE_AT_CAPACITY", `node ${node.id} already holds ${node.claimed_tasks.length} claims (max_workers ${node.capacity.max_workers})`, {
      node_id: node.id,
      max_workers: node.capacity.max_workers,
      claimed_tasks: node.claimed_tasks,
    });
  }
}

/** Whether a node could ever take a task with these labels as it is now: online, not draining nor cordoned, with workers and the labels. */
export function nodeCouldTake(node: NodeRecord, labels: Labels): boolean {
  return node.status === "online" && node.health !== "draining" && !node.cordoned && node.capacity.max_workers > 0 && labelsSatisfied(labels, node.labels);
}

/**
 * The warning `POST /tasks` answers when no online node could take a new labelled task (a
 * label nobody has, say `pool=gpu` before any GPU node registered): the task waits, but the
 * person who created it should know. Tasks without labels fit any node and get none.
 */
export function placementWarnings(labels: Labels, nodes: NodeRecord[]): string[] {
  if (Object.keys(labels).length === 0 || nodes.some((n) => nodeCouldTake(n, labels))) return [];
  const words = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(", ");
  return [`no online node has the labels ${words} (and takes work); the task waits until one does`];
}

/**
 * Checks a claim of this task by this node; first write wins, so a claimed task answers
 * TASK_CLAIMED. `claimedWithKey`: how many tasks of the task's concurrency key are claimed now
 * (read by the caller in the same transaction; 0 without a key).
 */
export function assertClaimable(task: Task, node: NodeRecord, claimedWithKey = 0): void {
  if (task.status === "claimed") {
    throw new CoordError("TASK_CLAIMED", `task ${task.id} is already claimed by ${task.claimed_by}`, {
      task_id: task.id,
      claimed_by: task.claimed_by,
      claimed_at: task.claimed_at,
    });
  }
  if (!isClaimable(task.status)) {
    throw new CoordError("TASK_NOT_CLAIMABLE", `task is ${task.status}`, { task_id: task.id, status: task.status });
  }
  assertNodeCanClaim(node);
  if (!labelsSatisfied(task.labels, node.labels)) {
    const missing = missingLabels(task.labels, node.labels);
    const words = Object.entries(missing).map(([k, v]) => `${k}=${v}`).join(", ");
    throw new CoordError("LABELS_NOT_SATISFIED", `node ${node.id} lacks the label${Object.keys(missing).length === 1 ? "" : "s"} task ${task.id} requires: ${words}`, {
      task_id: task.id,
      required: task.labels,
      missing,
    });
  }
  assertConcurrencyRoom(task, claimedWithKey);
}

export function claimTask(task: Task, node: NodeRecord, worker: string, now: Date, leaseMs: number, claimedWithKey = 0): Transition {
  assertClaimable(task, node, claimedWithKey);
  const ts = now.toISOString();
  const claimed: Task = {
    ...task,
    status: "claimed",
    attempts: task.attempts + 1,
    claimed_by: `${worker}@${node.id}`,
    claimed_node: node.id,
    worker_name: worker,
    claimed_at: ts,
    lease_expires_at: new Date(now.getTime() + leaseMs).toISOString(),
    updated_at: ts,
    cooldown: null,
  };
  return {
    task: claimed,
    event: taskEvent("task.claimed", claimed, ts, {
      node_id: node.id,
      worker,
      claimed_by: claimed.claimed_by,
      attempt: claimed.attempts,
      // What the claim ended, for the success metrics: a pending task's wait since it became
      // claimable (create→claim on a first claim), or an orphaned task's time to recovery.
      from: task.status,
      waited_ms: Math.max(0, now.getTime() - Date.parse(task.updated_at)),
    }),
  };
}

/**
 * Only the claimant may finish a task. A task whose lease ran out (orphaned) but that nobody
 * claimed again still belongs to its last claimant, so late work is not thrown away.
 */
export function assertClaimant(task: Task, nodeId: string): void {
  const holds = task.claimed_node === nodeId && (task.status === "claimed" || task.status === "orphaned");
  if (holds) return;
  if (task.status === "claimed" || task.status === "orphaned") {
    throw new CoordError("NOT_CLAIMANT", "only the node that claimed this task may finish it", {
      task_id: task.id,
      claimed_by: task.claimed_by,
    });
  }
  throw new CoordError("TASK_NOT_CLAIMABLE", `task is ${task.status}, not claimed`, { task_id: task.id, status: task.status });
}

function clearLease(task: Task, status: TaskStatus, ts: string): Task {
  return { ...task, status, lease_expires_at: null, updated_at: ts };
}

/** Back to pending: nobody holds the task any more, so it names no claimant (lists showed the old one). */
export function backToPending(task: Task, ts: string): Task {
  return { ...clearLease(task, "pending", ts), claimed_by: null, claimed_node: null, worker_name: null, claimed_at: null };
}

export function completeTask(
  task: Task,
  nodeId: string,
  result: { pr?: string | null; summary?: string | null; branch?: string | null },
  now: string,
): Transition {
  assertClaimant(task, nodeId);
  const next: Task = {
    ...clearLease(task, "completed", now),
    completed_at: now,
    result: { pr: result.pr ?? null, summary: result.summary ?? null, branch: result.branch ?? null },
  };
  return {
    task: next,
    event: taskEvent("task.completed", next, now, {
      node_id: nodeId,
      worker: task.worker_name,
      pr: next.result!.pr,
      summary: next.result!.summary,
      branch: next.result!.branch,
    }),
  };
}

/** tasks.retry_backoff by default: a task failed with retry waits 30 s, then 60 s, ... */
export const DEFAULT_RETRY_BACKOFF_MS = 30_000;
/** The longest backoff of a retried failure (DESIGN §11). */
export const MAX_RETRY_BACKOFF_MS = 15 * 60_000;

/** How long a task waits after its `attempts`-th claim failed with retry: `base` doubling per attempt, at most 15 minutes. */
export function retryBackoffMs(baseMs: number, attempts: number): number {
  if (baseMs <= 0) return 0;
  return Math.min(MAX_RETRY_BACKOFF_MS, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
}

/**
 * A failure with retry goes back while attempts remain; otherwise it is failed for good. With a
 * backoff (`tasks.retry_backoff`, see retryBackoffMs) it goes to `waiting` with `not_before` set
 * to when the retry is due (the sweeper makes it pending, task.ready); without one, to `pending`.
 * The node that failed it also gets the release cooldown: it matters when the backoff is
 * shorter than the cooldown (or off), so one broken node does not burn every attempt.
 */
export function failTask(task: Task, nodeId: string, reason: string, retry: boolean, now: string, backoffMs = 0): Transition {
  assertClaimant(task, nodeId);
  const final = !retry || task.attempts >= task.max_attempts;
  const delay = final ? 0 : retryBackoffMs(backoffMs, task.attempts);
  const back = backToPending(task, now);
  const next: Task = {
    ...(final ? clearLease(task, "failed", now) : delay > 0 ? { ...back, status: "waiting", not_before: new Date(Date.parse(now) + delay).toISOString() } : back),
    failure_reason: reason,
    completed_at: final ? now : null,
    cooldown: final ? null : cooldownFor(nodeId, now),
  };
  return {
    task: next,
    event: taskEvent("task.failed", next, now, {
      node_id: nodeId,
      worker: task.worker_name,
      reason,
      final,
      attempts: task.attempts,
      ...(delay > 0 ? { not_before: next.not_before, backoff_ms: delay } : {}),
    }),
  };
}

export function releaseTask(task: Task, nodeId: string, reason: string, now: string): Transition {
  assertClaimant(task, nodeId);
  const next: Task = { ...backToPending(task, now), cooldown: cooldownFor(nodeId, now) };
  return { task: next, event: taskEvent("task.released", next, now, { node_id: nodeId, worker: task.worker_name, reason }) };
}

/**
 * Takes back a claim nobody received (its long poll's client had gone): the task is pending
 * again as if the claim never happened, and the attempt it counted is given back.
 */
export function unclaimTask(task: Task, nodeId: string, reason: string, now: string): Transition {
  assertClaimant(task, nodeId);
  const next: Task = { ...backToPending(task, now), attempts: Math.max(0, task.attempts - 1) };
  return {
    task: next,
    event: taskEvent("task.released", next, now, { node_id: nodeId, worker: task.worker_name, reason, attempt_refunded: true }),
  };
}

/**
 * The node still working on a task, which must hear of its cancellation: the claimant of a
 * claimed task, and also the last claimant of an orphaned one, since it may still complete it
 * (see assertClaimant). (Bug fixed: cancelling an orphaned task told nobody, so a node that
 * came back late kept working on a cancelled task until its complete was refused.)
 */
export function workingNode(task: Task): string | null {
  return task.status === "claimed" || task.status === "orphaned" ? task.claimed_node : null;
}

export function cancelTask(task: Task, reason: string | null, now: string): Transition {
  if (isFinal(task.status)) {
    throw new CoordError("TASK_NOT_CLAIMABLE", `task is already ${task.status}`, { task_id: task.id, status: task.status });
  }
  const next: Task = { ...clearLease(task, "cancelled", now), cancel_reason: reason, completed_at: now };
  return {
    task: next,
    event: taskEvent("task.cancelled", next, now, { reason, node_id: workingNode(task) }),
  };
}

/** The lease ran out: orphaned for another node to take, or failed for good once attempts are used up. */
export function expireLease(task: Task, now: string): Transition {
  if (task.attempts >= task.max_attempts) {
    const next: Task = { ...clearLease(task, "failed", now), failure_reason: "lease expired", completed_at: now };
    return {
      task: next,
      event: taskEvent("task.failed", next, now, {
        node_id: task.claimed_node,
        worker: task.worker_name,
        reason: "lease expired",
        final: true,
        attempts: task.attempts,
      }),
    };
  }
  const next = clearLease(task, "orphaned", now);
  return {
    task: next,
    event: taskEvent("task.orphaned", next, now, { node_id: task.claimed_node, worker: task.worker_name, attempts: task.attempts }),
  };
}

export function leaseExpired(task: Task, nowMs: number): boolean {
  return task.status === "claimed" && task.lease_expires_at !== null && Date.parse(task.lease_expires_at) <= nowMs;
}
