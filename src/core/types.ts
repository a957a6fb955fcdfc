/** Domain types shared by the store, the coordinator, the server and the client. */

export const PRIORITIES = ["critical", "high", "medium", "low"] as const;
export type Priority = (typeof PRIORITIES)[number];

export const TASK_STATUSES = ["waiting", "pending", "claimed", "orphaned", "completed", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const NODE_STATUSES = ["online", "offline", "deregistered"] as const;
/** Liveness as the coordinator sees it. */
export type NodeStatus = (typeof NODE_STATUSES)[number];

export const NODE_HEALTHS = ["healthy", "degraded", "draining"] as const;
/** The node's own report of itself. */
export type NodeHealth = (typeof NODE_HEALTHS)[number];

export const MESSAGE_STATUSES = ["pending", "acked"] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export type Labels = Record<string, string>;

export interface NodeCapacity {
  max_workers: number;
  current_workers: number;
}

/** An agent as a node reports it in its heartbeat. */
export interface AgentSummary {
  name: string;
  type: string;
  status: string;
  task?: string | null;
  repo?: string | null;
  task_id?: string | null;
}

export interface NodeMetrics {
  cpu_percent?: number;
  memory_percent?: number;
  [key: string]: number | undefined;
}

export interface RepoReport {
  name: string;
  active_prs: number;
}

/** A registered multiclaude instance (machine). */
export interface Node {
  id: string;
  hostname: string;
  capacity: NodeCapacity;
  labels: Labels;
  status: NodeStatus;
  health: NodeHealth;
  registered_at: string;
  last_seen: string;
  agents: AgentSummary[];
  metrics: NodeMetrics;
  repos: RepoReport[];
  /** Ids of the tasks this node holds claims on (status `claimed`). */
  claimed_tasks: string[];
  /** Set when the stored report was cut to its bounds (task texts, agents or repos; DESIGN §10). */
  report_truncated?: true;
  /**
   * An admin took the node out of rotation (DESIGN §11): it keeps its claims and gets no new
   * ones. The API always says true or false; stored records from before cordoning lack it.
   */
  cordoned?: boolean;
}

/** The stored node: the API shape plus what only the coordinator sees. */
export interface NodeRecord extends Node {
  registration_id: string | null;
  /**
   * The name of the token that registered this node id: only it (or an admin taking the node
   * over) may register it again, and only it may act through the registration. Absent on
   * records stored before nodes had owners.
   */
  owner?: string;
  /**
   * Tasks cancelled while this node held them. Every heartbeat answer lists them until
   * `claim_timeout` has passed since the cancellation, so a lost answer hides nothing.
   */
  cancelled_tasks: CancelledTask[];
}

export interface CancelledTask {
  task_id: string;
  cancelled_at: string;
}

export interface TaskResult {
  pr: string | null;
  summary: string | null;
  /** The git branch the work is on (multiclaude records `work/<worker>`); set when known. */
  branch: string | null;
}

/**
 * A node that gave a task back (release, or fail with retry) is not offered it again by
 * `POST /tasks/claim` until `until`, so one node whose start keeps failing does not burn every
 * attempt in a row; other nodes may take it at once.
 */
export interface TaskCooldown {
  node_id: string;
  until: string;
}

/** A distributable work item. */
export interface Task {
  id: string;
  repo: string;
  description: string;
  priority: Priority;
  labels: Labels;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string;
  /** `worker@node` of the current (or, once it ended, the last) claim. */
  claimed_by: string | null;
  claimed_node: string | null;
  worker_name: string | null;
  claimed_at: string | null;
  lease_expires_at: string | null;
  completed_at: string | null;
  result: TaskResult | null;
  failure_reason: string | null;
  cancel_reason: string | null;
  /** Set by a release or a retried failure; see TaskCooldown. Absent on records stored before it existed. */
  cooldown?: TaskCooldown | null;
  /**
   * The task is `waiting` until then (DESIGN §11), and the sweeper makes it `pending` (event
   * `task.ready`). Absent on records stored before it existed.
   */
  not_before?: string | null;
  /**
   * Tasks sharing a key: at most `concurrency_limit` of them are `claimed` at once, across all
   * nodes and replicas (DESIGN §11). Both null without a key; absent on records stored before.
   */
  concurrency_key?: string | null;
  concurrency_limit?: number | null;
  /**
   * The tasks this one waits for (DESIGN §11): it is `waiting` until every one is `completed`,
   * and cancelled when one fails for good or is cancelled. Absent on records stored before it existed.
   */
  depends_on?: string[];
  /** The dependencies not completed yet; the task is ready once this is empty (and not_before came). */
  blocked_by?: string[];
}

export interface Message {
  id: string;
  from: string;
  /** Always `agent@node` once stored. */
  to: string;
  to_agent: string;
  to_node: string;
  repo: string | null;
  body: string;
  status: MessageStatus;
  created_at: string;
  acked_at: string | null;
}

/** What nodes last reported about a repo (latest report wins). */
export interface RepoRecord {
  name: string;
  active_prs: number;
  reported_by: string;
  updated_at: string;
}

export const EVENT_TYPES = [
  "node.registered",
  "node.online",
  "node.offline",
  "node.deregistered",
  "node.forgotten",
  "node.cordoned",
  "node.uncordoned",
  "agent.spawned",
  "agent.exited",
  "task.created",
  "task.claimed",
  "task.released",
  "task.completed",
  "task.failed",
  "task.orphaned",
  "task.cancelled",
  "task.retried",
  "task.ready",
  "message.sent",
  "message.acked",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type EventData = Record<string, unknown> & { ts: string };

/** One entry of the ordered event log. */
export interface CoordEvent {
  id: number;
  type: EventType;
  data: EventData;
}

/** An event before the store gives it its id. */
export type NewEvent = Omit<CoordEvent, "id">;

/** Repo state as served by GET /state/{repo}. */
export interface RepoState {
  repo: string;
  /** false: no node reports the repo and no task names it (the counts are then all zero). */
  known: boolean;
  agents: Record<string, { name: string; node: string; type: string; status: string; task: string | null }>;
  pending_tasks: number;
  active_prs: number;
  /** Set when the repo has more agents than one answer holds (10,000); the first ones by node id are listed. */
  agents_truncated?: true;
}
