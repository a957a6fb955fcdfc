import {
  NODE_STATUSES,
  TASK_STATUSES,
  type CoordEvent,
  type Labels,
  type Message,
  type MessageStatus,
  type NewEvent,
  type NodeRecord,
  type NodeStatus,
  type RepoRecord,
  type Task,
  type TaskStatus,
} from "../core/types.js";

/** Which pending (or orphaned) tasks to list, best claim first. */
export interface PendingQuery {
  /** The labels of a node: only tasks whose requirements these satisfy. Omitted: every task. */
  labels?: Labels;
  /** Only tasks of these repos (an empty list matches nothing). Omitted: every repo. */
  repos?: readonly string[];
  limit: number;
  /**
   * Leave out the tasks whose concurrency key has no room for them now (`groupHasRoom` with the
   * key's claimed count), as claim-next passes over them: a full key costs one count, however
   * many tasks it has. Not a condition of a commit: a claim checks its pick again in its
   * transaction.
   */
  withRoom?: boolean;
  /**
   * With `withRoom`: claimed counts of keys as the caller's transaction read them, used instead
   * of the committed ones (a claim batched with others on SQLite sees the batch's claims, which
   * the committed counts do not hold yet).
   */
  claimedCounts?: Readonly<Record<string, number>>;
}

export interface TaskListQuery {
  status?: TaskStatus;
  repo?: string;
  limit: number;
  /** Id of the last task of the previous page; pages go newest first. */
  cursor?: string;
}

export interface MessageQuery {
  to_node?: string;
  to?: string;
  status?: MessageStatus;
  limit: number;
  /** Only messages with an id after this one (pages go oldest first). */
  after?: string;
}

export interface NodeQuery {
  status?: NodeStatus;
  labels?: Labels;
  /** At most this many (by id); all when omitted. */
  limit?: number;
  /** Only nodes with an id after this one (pages go by id). */
  after?: string;
}

/** Claimable tasks of one repo with the same label requirements (a pending bucket), for metrics. */
export interface PendingBucket {
  repo: string;
  labels: Labels;
  count: number;
  /** Id of the bucket's oldest task (ids grow with creation time; see `idTime`). */
  oldest_id: string;
}

export interface StoreCounts {
  nodes: Record<NodeStatus, number>;
  tasks: Record<TaskStatus, number>;
}

/** Counts with every status present at zero, for a store to fill in. */
export function emptyCounts(): StoreCounts {
  return {
    nodes: Object.fromEntries(NODE_STATUSES.map((s) => [s, 0])) as StoreCounts["nodes"],
    tasks: Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as StoreCounts["tasks"],
  };
}

/** Reads a transaction may make; what it reads is what its commit depends on. */
export interface StoreTxReads {
  getNode(id: string): Promise<NodeRecord | undefined>;
  getNodeByRegistration(registrationId: string): Promise<NodeRecord | undefined>;
  getTask(id: string): Promise<Task | undefined>;
  getTaskByIdempotencyKey(key: string): Promise<Task | undefined>;
  getMessage(id: string): Promise<Message | undefined>;
  listPending(query: PendingQuery): Promise<Task[]>;
  /**
   * How many tasks with this `concurrency_key` are `claimed` (DESIGN §11). Inside a transaction
   * it counts the transaction's own writes, and on a shared store the count is a condition of
   * the commit, so concurrent claims over several replicas never pass a key's limit.
   */
  countClaimedWithKey(key: string): Promise<number>;
  /**
   * Ids of the waiting tasks still blocked by task `taskId` (its dependents whose `blocked_by`
   * names it; see `waitingOn`). In a transaction the answer is a condition of the commit, like
   * a record read: a dependent created meanwhile makes a shared store run the transaction again.
   */
  listDependents(taskId: string): Promise<string[]>;
  /**
   * At least how many waiting dependents task `taskId` has: an upper bound of
   * `listDependents(taskId).length`, cheap, and on a shared store NOT a condition of the commit
   * (so creates naming one task do not conflict). The cap check reads the exact list near the cap.
   */
  countDependents(taskId: string): Promise<number>;
}

/**
 * One atomic change. Writes are buffered and applied, together with their events, in one
 * step when the transaction function returns; nothing is written if it throws.
 */
export interface StoreTx extends StoreTxReads {
  putNode(node: NodeRecord): void;
  putTask(task: Task): void;
  putMessage(message: Message): void;
  putRepo(repo: RepoRecord): void;
  /** Removes a record and every index entry it has (retention, forgetting a node). */
  deleteNode(id: string): void;
  deleteTask(id: string): void;
  deleteMessage(id: string): void;
  /** Appends an event; the store gives it the next id in the same atomic step as the writes. */
  emit(event: NewEvent): void;
}

export type EventListener = (events: CoordEvent[]) => void;

/** What a store's one-step claim (`Store.claimNext`) is asked to do: claim-next for one node. */
export interface ClaimNextRequest {
  registration_id: string;
  /** The node the registration was made for (known to the coordinator; the store checks it still is). */
  node_id: string;
  worker_name: string;
  /** Only tasks of these repos (an empty list matches nothing); undefined: every repo. */
  repos?: readonly string[];
  now: Date;
  /** Lease length of the claim (claim_timeout). */
  lease_ms: number;
  /**
   * How many of the best fitting tasks whose concurrency key has room to look at for one this
   * node may take now, past those in their cooldown for it (TaskService's COOLDOWN_LOOKAHEAD).
   * Tasks of a full key are left out by their bucket, unread.
   */
  lookahead: number;
}

/**
 * What a one-step claim did. `node`: the node may not claim now, and the coordinator's rules
 * (`assertNodeCanClaim`) say why; `fallback`: a case the store leaves to `transact`.
 */
export type ClaimNextOutcome =
  | { kind: "claimed"; task: Task; event: NewEvent }
  | { kind: "none" }
  | { kind: "skipped" }
  | { kind: "node"; node: NodeRecord }
  | { kind: "registration" }
  | { kind: "fallback"; reason: string };


/**
 * Where one webhook's delivery stands (DESIGN §12), shared by every replica: the position (the
 * last event id delivered or skipped), who holds the delivery lease and until when, and what the
 * last attempt did. Stores keep it whole and only compare `version`; the rules are in src/webhooks.
 */
export interface WebhookCursor {
  name: string;
  /** Bumped by the store on every write; a write names the version it read. */
  version: number;
  position: number;
  /** Replica id holding the lease ("" = none) and when it ends (ms since the epoch). */
  owner: string;
  lease_until: number;
  last_status: number | null;
  last_error: string | null;
  /** ISO time of the last successful delivery. */
  last_delivery_at: string | null;
  delivered: number;
  skipped: number;
}

/** Webhook cursors, compare-and-set: the primitive the delivery lease is built on. */
export interface WebhookCursorStore {
  getWebhookCursor(name: string): Promise<WebhookCursor | undefined>;
  /**
   * Writes `cursor` only if the stored version is still `expectVersion` (0: the cursor must not
   * exist yet). Returns the stored record (version `expectVersion + 1`), or undefined when
   * another writer got there first.
   */
  putWebhookCursor(cursor: Omit<WebhookCursor, "version">, expectVersion: number): Promise<WebhookCursor | undefined>;
  /** Removes the cursor if its version is still `expectVersion`; true when removed. */
  deleteWebhookCursor(name: string, expectVersion: number): Promise<boolean>;
}

/**
 * A dashboard sign-in session (DESIGN §13), shared by every replica. The cookie's value is never
 * stored: `id` is its SHA-256 (hex), so a copy of the store cannot sign anyone in.
 */
export interface SessionRecord {
  id: string;
  /** Names the token it was made from (see `tokenKey` in src/server/auth.ts), never the token itself. */
  token_key: string;
  /** Sent by the page in `X-CSRF-Token` on every mutating request. */
  csrf: string;
  created_ms: number;
  expires_ms: number;
}

/** Bounds a new session is created within. */
export interface SessionLimits {
  /** Sessions one token may hold; creating one more ends its oldest. */
  perToken: number;
  /** Sessions in all; when full (after dropping expired ones) a new one is refused. */
  total: number;
}

/** Sessions, by the hash of their cookie; expired ones count as gone. */
export interface SessionStore {
  /** Stores `session` atomically within `limits`; false when the total is full. */
  createSession(session: SessionRecord, limits: SessionLimits, nowMs: number): Promise<boolean>;
  /** The session if it exists and has not expired at `nowMs`. */
  getSession(id: string, nowMs: number): Promise<SessionRecord | undefined>;
  /** Ends a session (sign-out); true when it existed. */
  deleteSession(id: string): Promise<boolean>;
  /** Ends every session whose token_key is not in `tokenKeys` (tokens removed by a reload); returns how many. */
  deleteSessionsExcept(tokenKeys: readonly string[]): Promise<number>;
}

/**
 * Where the coordinator keeps its state. Business rules live in the coordinator; a store only
 * keeps records, indexes them, and makes a transaction atomic (and, for shared stores, safe
 * across coordinator replicas).
 */
export interface Store extends StoreTxReads, WebhookCursorStore, SessionStore {
  readonly backend: "memory" | "sqlite" | "redis";
  /**
   * Runs `fn` as one atomic transaction and returns its result. `fn` may be run more than
   * once when a shared store detects a conflicting write, so it must have no other effects.
   */
  transact<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Optional fast path of `POST /tasks/claim` (Redis: one Lua script, one round trip): checks the
   * registration and the node, picks the best task that fits and commits the claim with its
   * event, atomically, exactly as the coordinator's transaction would. `none`: no claimable task
   * fits the node's labels and the repos, or the keys of all that do are full (so none may go to
   * any node with these labels now); `skipped`: tasks fit, but none of the best `lookahead` may
   * go to this node now (cooldown). Stores without it are claimed from through `transact`.
   */
  claimNext?(request: ClaimNextRequest): Promise<ClaimNextOutcome>;
  listNodes(query: NodeQuery): Promise<NodeRecord[]>;
  listTasks(query: TaskListQuery): Promise<{ tasks: Task[]; next_cursor: string | null }>;
  countPending(repo?: string): Promise<number>;
  listMessages(query: MessageQuery): Promise<Message[]>;
  countPendingMessages(nodeId: string): Promise<number>;
  getRepo(name: string): Promise<RepoRecord | undefined>;
  /** Online nodes whose last heartbeat is older than `cutoff` (ISO time). */
  staleNodes(cutoff: string): Promise<NodeRecord[]>;
  /** Claimed tasks whose lease ends at or before `now` (ISO time). */
  expiredLeases(now: string): Promise<Task[]>;
  /** Waiting tasks whose `not_before` is at or before `now` (ISO time), soonest first, at most `limit`. */
  dueTasks(now: string, limit: number): Promise<Task[]>;
  /**
   * Ids of tasks that ended (completed, failed, cancelled), or whose record is gone, while waiting
   * tasks are still indexed as blocked by them (`listDependents` not empty): dependents a
   * follow-up write has yet to settle (DESIGN §11). At most `limit`, in no particular order.
   */
  unsettledTasks(limit: number): Promise<string[]>;
  /**
   * Retention candidates, oldest first, at most `limit`: finished tasks (completed, failed,
   * cancelled) whose `completed_at` is before `before`; acked messages whose `acked_at` is; nodes
   * not online whose `last_seen` is. Whether one is purged is the coordinator's rule. `skip`
   * (default 0) leaves out that many of the oldest: retention pages past the ones it keeps.
   */
  finishedTasks(before: string, limit: number, skip?: number): Promise<Task[]>;
  ackedMessages(before: string, limit: number, skip?: number): Promise<Message[]>;
  idleNodes(before: string, limit: number): Promise<NodeRecord[]>;
  counts(): Promise<StoreCounts>;
  /** Claimable (pending and orphaned) tasks grouped by repo and label requirements; one entry per non-empty group. */
  pendingBuckets(): Promise<PendingBucket[]>;
  /** Events with id > `afterId`, oldest first. */
  readEvents(afterId: number, limit: number): Promise<CoordEvent[]>;
  /** The oldest retained event id (0 when the log is empty) and the last id ever given. */
  eventBounds(): Promise<{ oldest_id: number; last_id: number }>;
  /** Called with every committed batch of events, in id order, including other replicas' (shared stores). */
  onEvents(listener: EventListener): () => void;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** How many events the log keeps (DESIGN: events.retention). */
  retention?: number;
  /**
   * How many bytes the log may hold (DESIGN: events.max_bytes, default 64 MiB, see `eventSize`):
   * past it the oldest events are trimmed, though the newest event is always kept.
   */
  maxEventBytes?: number;
  /** Prefix of every key a shared store writes (redis), so several deployments can share one server. */
  keyPrefix?: string;
}
