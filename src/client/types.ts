/**
 * The client's side of the wire (DESIGN section 5). Domain shapes (tasks, nodes, events,
 * labels, capacities, statuses) come from core; the request bodies are stated here because the
 * client must not depend on the coordinator or the server (whose TypeBox schemas are the source
 * of truth for bounds).
 */
import type { WebhookStatus, WebhookTestResult } from "../webhooks/types.js";
import type {
  AgentSummary,
  CoordEvent,
  Labels,
  Message,
  MessageStatus,
  Node,
  NodeCapacity,
  NodeHealth,
  NodeMetrics,
  NodeStatus,
  Priority,
  RepoReport,
  Task,
  TaskStatus,
} from "../core/types.js";

/** How to reach a coordinator. */
export interface ClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:7331` (a trailing `/api/v1` is accepted). */
  url: string;
  token?: string;
  /** Per-request timeout in milliseconds (default 30s); long polls get their wait on top. */
  timeoutMs?: number;
  /**
   * Resends after connection failures, 429 and 503 (default 3). Requests that must not happen
   * twice (a create without idempotency key, claims, completes ...) are resent only when the
   * coordinator surely did not process them: the connection was refused, 429, or a 503 with
   * `details.retry_safe: true`.
   */
  retries?: number;
  /** PEM contents for TLS: a private CA, and a client certificate for mTLS. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** A registration made earlier (e.g. saved by `multiclaude-coord register`). */
  registration?: { id: string; request?: RegisterRequest };
  /** Called after every successful registration, including transparent re-registrations. */
  onRegistered?: (registration: { id: string; request: RegisterRequest; response: RegisterResponse }) => void;
  userAgent?: string;
  /**
   * Told of each `Warning` the coordinator answers with, e.g. `unknown field body.x` when it is
   * older than this client and ignored a field (DESIGN §14). Default: ignored.
   */
  onWarning?: (warning: string) => void;
}

export interface RegisterRequest {
  node_id: string;
  hostname?: string;
  capacity?: Partial<NodeCapacity>;
  labels?: Labels;
}

export interface RegisterResponse {
  registration_id: string;
  heartbeat_interval_seconds: number;
}

export interface HeartbeatRequest {
  /** Defaults to the client's current registration. */
  registration_id?: string;
  status?: NodeHealth;
  agents?: AgentSummary[];
  metrics?: NodeMetrics;
  repos?: RepoReport[];
  capacity?: Partial<Pick<NodeCapacity, "current_workers">>;
}

export interface HeartbeatResponse {
  status: NodeStatus | string;
  pending_messages: number;
  cancelled_task_ids: string[];
  /** An admin cordoned this node: claims are refused (NODE_CORDONED) until it is uncordoned. */
  cordoned: boolean;
}

/** What `DELETE /nodes/{id}` did. */
export interface ForgetNodeResponse {
  node_id: string;
  /** The node's claims, given back to pending. */
  released_tasks: string[];
}

export interface DeregisterResponse {
  /** Absent only when the answer was lost and the client does not know the node's id. */
  node_id?: string;
  /** The claims given back to pending; absent when the answer was lost (see `deregister`). */
  released_tasks?: string[];
}

export interface CreateTaskRequest {
  repo: string;
  description: string;
  priority?: Priority;
  labels?: Labels;
  max_attempts?: number;
  /** Same key → same task; makes the create safe to retry. */
  idempotency_key?: string;
  /** ISO time: the task is `waiting` until then, then `pending` (at most a year ahead). */
  not_before?: string;
  /** At most `concurrency_limit` (default 1) tasks with this key are claimed at once. */
  concurrency_key?: string;
  concurrency_limit?: number;
  /** Ids of tasks that must complete first (at most 32): `waiting` until they have. */
  depends_on?: string[];
}

/** What `POST /tasks/batch` answers: one task and one `created` flag per item, in order. */
export interface CreatedTaskBatch {
  tasks: Task[];
  created: boolean[];
}

export interface ListTasksQuery {
  status?: TaskStatus;
  repo?: string;
  limit?: number;
  cursor?: string;
}

export interface TaskPage {
  tasks: Task[];
  next_cursor: string | null;
}

export interface PendingQuery {
  repo?: string;
  /** Only tasks of these repos ([] matches nothing). */
  repos?: readonly string[];
  limit?: number;
  /** Hold the request until a fitting task exists (long poll). */
  waitSeconds?: number;
}

export interface ClaimNextRequest {
  workerName: string;
  repo?: string;
  /** Only tasks of these repos, e.g. the ones multiclaude has initialised on this machine ([] matches nothing). */
  repos?: readonly string[];
  /** Hold the request open until a task appears (server caps it at 300). */
  waitSeconds?: number;
  signal?: AbortSignal;
}

export interface ListNodesQuery {
  status?: NodeStatus;
  labels?: Labels;
}

/** Paging of a list request: at most `limit` (server default 100, cap 1000), after `cursor`. */
export interface PageQuery {
  limit?: number;
  /** The `next_cursor` of the page before. */
  cursor?: string;
}

export interface NodePage {
  nodes: Node[];
  next_cursor: string | null;
}

export interface MessagePage {
  messages: Message[];
  next_cursor: string | null;
}

export interface SendMessageRequest {
  /** Default: the client's own registration, if it has one. */
  registration_id?: string;
  from: string;
  to: string;
  body: string;
  repo?: string;
}

export interface ListMessagesQuery {
  node?: string;
  to?: string;
  status?: MessageStatus;
}

export interface EventQuery {
  /** Events after this id. */
  since?: number;
  limit?: number;
  /** Type globs, e.g. `task.*`, `node.offline`. */
  types?: string[];
  repo?: string;
}

/** A page of `GET /events`. */
export interface EventPage {
  events: CoordEvent[];
  /** The oldest event the coordinator still keeps (0 when its log is empty). */
  oldest_id: number;
  last_event_id: number;
  /** `since` is not in the log: older than `oldest_id` - 1 (trimmed), or newer than `last_event_id`. */
  reset: boolean;
  /**
   * Where the next read starts (`since`): a read looks at a bounded number of events, so a
   * filtered page may be short, even empty, before the end of the log. There is more to read
   * while `next < last_event_id`. Absent in answers of older coordinators (continue after the last event then).
   */
  next?: number;
}

export interface StreamOptions extends Omit<EventQuery, "limit"> {
  signal?: AbortSignal;
  /** Told about each lost connection before the client reconnects. */
  onDisconnect?: (info: { error: unknown; retryInMs: number; lastEventId: number | undefined }) => void;
  /** Told when a (re)connection is established. */
  onConnect?: (info: { lastEventId: number | undefined; reconnect: boolean }) => void;
}

/**
 * Sent by the server when the requested resume point is not in its log: older than the retained
 * events, or newer than its last one (a restarted coordinator on `memory://`). The stream then
 * continues with every retained event from `oldest_id` on.
 */
export interface StreamResetEvent {
  id: null;
  type: "stream.reset";
  data: { oldest_id: number; requested_id?: number; [key: string]: unknown };
}

export type StreamEvent = CoordEvent | StreamResetEvent;

export interface ServerStatus {
  version: string;
  uptime_seconds: number;
  started_at?: string;
  store: string;
  nodes: { total: number; [status: string]: number };
  tasks: { total: number; [status: string]: number };
  last_event_id: number;
  /** Claimed tasks (busy) and capacity (max) of the online nodes; utilisation = busy / max. */
  workers?: { busy: number; max: number; utilisation: number };
  /** Create→claim wait of the claims of the last hour; null percentiles when there were none. */
  claim_latency?: { window_seconds: number; count: number; p50_ms: number | null; p99_ms: number | null };
  [key: string]: unknown;
}

export type { WebhookStatus, WebhookTestResult };

/** `GET /webhooks`: the webhooks and the replica that answered. */
export interface WebhookList {
  webhooks: WebhookStatus[];
  replica: string;
}
