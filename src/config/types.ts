import type { ConnectionLimits } from "./server-limits.js";
import type { RetentionPolicy } from "../core/retention.js";
import type { Labels, Priority } from "../core/types.js";
import type { WebhookConfig, WebhookTuning } from "../webhooks/types.js";

export const ROLES = ["admin", "node", "read"] as const;
/** admin ⊇ node ⊇ read. */
export type Role = (typeof ROLES)[number];

export interface TokenEntry {
  token: string;
  role: Role;
  /** Shown in logs and the audit log instead of the token; nodes registered with it belong to this name. */
  name: string;
  /** Node tokens only: globs (`ci-runner-*`) of the node ids it may register; any when absent. */
  nodes?: string[];
}

/** The `server`, `registration`, `tasks`, `store`, `events` parts of the config file, normalised. */
export interface ServerConfig {
  listen: { host: string; port: number };
  store: string;
  auth: { required: boolean; tokens: TokenEntry[] };
  tls: { enabled: boolean; cert_file?: string; key_file?: string; ca_file?: string; client_auth: "none" | "require" };
  /** `max_streams_per_token` caps open event streams per token (default 100). */
  rate_limit: { enabled: boolean; requests_per_second: number; burst: number; max_streams_per_token: number };
  /** `keep`: rotated files kept of each audit file (default 10, of 10 MiB each). */
  audit: { file?: string; keep: number };
  heartbeat_interval_ms: number;
  offline_threshold_ms: number;
  claim_timeout_ms: number;
  default_priority: Priority;
  max_attempts: number;
  /** `tasks.retry_backoff`: the first wait of a task failed with retry, doubling per attempt up to 15 m (default 30 s; 0: none). */
  retry_backoff_ms: number;
  events_retention: number;
  /** `events.max_bytes`: the most bytes the event log keeps (default 64 MiB). */
  events_max_bytes: number;
  /** `tasks.retention`, `messages.retention`, `registration.forget_after` (ms; 0 keeps forever). */
  retention: RetentionPolicy;
  log_level: string;
  /** Proxies whose X-Forwarded-For is believed (fastify `trustProxy`). */
  trust_proxy: boolean | number | string[];
  /** Browser origins allowed by CORS (`server.cors.origins`); empty = CORS off. */
  cors: { origins: string[] };
  /** Socket timeouts and connection caps (`server.timeouts`, `server.max_connections`, ...). */
  connections: ConnectionLimits;
  /** The `webhooks:` list (DESIGN §12); reloaded by SIGHUP. */
  webhooks: WebhookConfig[];
  /** `server.webhooks`: lease and retry timings of webhook delivery. */
  webhook_tuning: WebhookTuning;
}

/** The `coordination` part: how a client or node reaches the coordinator and who it is. */
export interface ClientConfig {
  server_url: string;
  token?: string;
  node_id?: string;
  labels: Labels;
  max_workers?: number;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  timeout_ms: number;
  /** How `multiclaude-coord agent` runs multiclaude workers on this node. */
  agent: AgentConfig;
}

/** The `coordination.agent` part: the worker-pool process (see docs/agent.md). */
export interface AgentConfig {
  /** argv that starts a worker, never run through a shell; `{repo}`, `{description}`, `{task_id}`, `{priority}` are filled in. */
  command: string[];
  /** argv that stops a worker whose task was cancelled; `{worker}` and `{repo}` are filled in. */
  stop_command: string[];
  /** Coordinator repo name → the local multiclaude repo name (unlisted repos keep their name). */
  repos: Record<string, string>;
  /** multiclaude's home folder (default `~/.multiclaude`). */
  multiclaude_home?: string;
  /** How long a draining agent waits for running workers before releasing their tasks. */
  grace_period_ms: number;
  /** Long-poll wait of one claim request. */
  claim_wait_ms: number;
  /** Overrides the heartbeat interval the coordinator asks for. */
  heartbeat_interval_ms?: number;
  /** How often multiclaude's state.json is read to notice finished workers. */
  check_interval_ms: number;
}

export interface Config {
  /** The file the config came from, if any. */
  source?: string;
  /** Things in the file that were usable but probably not meant (printed once by `serve`). */
  warnings: string[];
  server: ServerConfig;
  coordination: ClientConfig;
}
