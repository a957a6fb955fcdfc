import type { Labels, Priority } from "../core/types.js";

export const ROLES = ["admin", "node", "read"] as const;
/** admin ⊇ node ⊇ read. */
export type Role = (typeof ROLES)[number];

export interface TokenEntry {
  token: string;
  role: Role;
  /** Shown in logs and the audit log instead of the token. */
  name: string;
}

/** The `server`, `registration`, `tasks`, `store`, `events` parts of the config file, normalised. */
export interface ServerConfig {
  listen: { host: string; port: number };
  store: string;
  auth: { required: boolean; tokens: TokenEntry[] };
  tls: { enabled: boolean; cert_file?: string; key_file?: string; ca_file?: string; client_auth: "none" | "require" };
  rate_limit: { enabled: boolean; requests_per_second: number; burst: number };
  audit: { file?: string };
  heartbeat_interval_ms: number;
  offline_threshold_ms: number;
  claim_timeout_ms: number;
  default_priority: Priority;
  max_attempts: number;
  events_retention: number;
  log_level: string;
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
}

export interface Config {
  /** The file the config came from, if any. */
  source?: string;
  server: ServerConfig;
  coordination: ClientConfig;
}
