import type { AgentSummary, Labels, NewEvent, NodeHealth, NodeMetrics, Priority, RepoReport, TaskStatus } from "../core/types.js";
import type { RetentionPolicy } from "../core/retention.js";
import type { Store } from "../store/types.js";

export interface CoordinatorOptions {
  store: Store;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  clock?: () => number;
  heartbeatIntervalMs?: number;
  offlineThresholdMs?: number;
  claimTimeoutMs?: number;
  /** How often offline detection and lease expiry run. */
  sweepIntervalMs?: number;
  defaultPriority?: Priority;
  defaultMaxAttempts?: number;
  /** How many waiting dependents one task may have (default MAX_DEPENDENTS, 1000); a create past it is 409 TOO_MANY_DEPENDENTS. */
  maxDependents?: number;
  /** tasks.retry_backoff: how long a task failed with retry waits before its next claim, doubling per attempt (default 30 s; 0: none). */
  retryBackoffMs?: number;
  /** How long finished tasks, acked messages and idle nodes are kept (DESIGN §10); 0 keeps. */
  retention?: Partial<RetentionPolicy>;
  version?: string;
}

export interface RegisterInput {
  node_id: string;
  hostname?: string;
  capacity?: { max_workers?: number; current_workers?: number };
  labels?: Labels;
}

export interface HeartbeatInput {
  registration_id: string;
  status?: NodeHealth;
  agents?: AgentSummary[];
  metrics?: NodeMetrics;
  repos?: RepoReport[];
  capacity?: { current_workers?: number };
}

export interface CreateTaskInput {
  repo: string;
  description: string;
  priority?: Priority;
  labels?: Labels;
  max_attempts?: number;
  idempotency_key?: string;
  /** ISO time; the task is `waiting` until then (DESIGN §11). */
  not_before?: string;
  /** At most `concurrency_limit` (default 1) tasks with this key are claimed at once (DESIGN §11). */
  concurrency_key?: string;
  concurrency_limit?: number;
  /** Ids of tasks that must complete first (at most 32; DESIGN §11). */
  depends_on?: string[];
}

export interface ClaimInput {
  registration_id: string;
  worker_name: string;
}

export interface ClaimNextInput extends ClaimInput {
  repo?: string;
  /** Only tasks of these repos (with `repo` too: both narrow). The agent sends the repos multiclaude has here. */
  repos?: string[];
  wait_seconds?: number;
}

/** Which claimable tasks `GET /tasks/pending` lists. */
export interface PendingInput {
  labels?: Labels;
  repo?: string;
  repos?: string[];
  limit?: number;
}

export interface CompleteInput {
  registration_id: string;
  pr?: string;
  summary?: string;
  branch?: string;
}

export interface FailInput {
  registration_id: string;
  reason: string;
  retry?: boolean;
}

export interface ReleaseInput {
  registration_id: string;
  reason?: string;
}

export interface TaskListInput {
  status?: TaskStatus;
  repo?: string;
  limit?: number;
  cursor?: string;
}

export interface SendMessageInput {
  /** The sender's registration; required of node tokens, whose `from` must be an agent of that node. */
  registration_id?: string;
  from: string;
  to: string;
  body: string;
  repo?: string;
}

/** What the coordinator's parts share. */
export interface CoordinatorContext {
  store: Store;
  /** Tells this replica's observers (metrics) of an event it committed, once, after the commit. */
  observe(event: NewEvent): void;
  now(): Date;
  heartbeatIntervalMs: number;
  offlineThresholdMs: number;
  claimTimeoutMs: number;
  defaultPriority: Priority;
  defaultMaxAttempts: number;
  maxDependents: number;
  retryBackoffMs: number;
  retention: RetentionPolicy;
}
