import { DEFAULT_RETENTION } from "../core/retention.js";
import { DEFAULT_EVENT_MAX_BYTES } from "../core/events.js";
import { WORKER_BOUNDS } from "../core/nodes.js";
import { DEFAULT_RETRY_BACKOFF_MS, MAX_RETRY_BACKOFF_MS } from "../core/tasks.js";
import { PRIORITIES, type Labels } from "../core/types.js";
import { DEFAULT_PORT, defaultStoreUrl } from "./paths.js";
import { SectionReader } from "./reader.js";
import { readConnectionLimits } from "./server-limits.js";
import { readTokens } from "./tokens.js";
import { readWebhooks, readWebhookTuning } from "./webhooks.js";
import type { AgentConfig, ClientConfig, Config, ServerConfig } from "./types.js";

export { tokenName } from "./tokens.js";

/** Retention durations: 0 keeps forever; at most ~100 years, so time arithmetic stays exact. */
const RETENTION_RANGE = { allowZero: true, maxMs: 36_500 * 86_400_000 };

export const DEFAULT_SERVER_URL = `http://127.0.0.1:${DEFAULT_PORT}`;
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

/** Parses `:7331`, `127.0.0.1:7331`, `[::1]:7331` or `host` (default port). `:7331` means every interface. */
export function parseListenAddr(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`expected HOST:PORT, :PORT or [IPv6]:PORT, got ${JSON.stringify(text)}`);
  const host = m[1] ?? (m[2] || "0.0.0.0");
  const port = m[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be 0-65535, got ${m[3]}`);
  return { host, port };
}

function readLabels(section: SectionReader, name: string): Labels {
  const raw = section.raw[name];
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    section.problem(name, "expected a mapping of key: value");
    return {};
  }
  const labels: Labels = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      section.problem(`${name}.${k}`, "expected a string value");
      continue;
    }
    labels[k] = String(v);
  }
  return labels;
}

function readServer(root: SectionReader, env: NodeJS.ProcessEnv, warnings: string[]): ServerConfig {
  const server = root.section("server");
  server.rejectUnknown(["enabled", "listen_addr", "tls", "auth", "rate_limit", "audit", "log_level", "store", "trust_proxy", "cors", "timeouts", "max_connections", "max_connections_per_address", "webhooks"]);
  let listen = { host: "0.0.0.0", port: DEFAULT_PORT };
  const addr = server.string("listen_addr");
  if (addr !== undefined) {
    try {
      listen = parseListenAddr(addr);
    } catch (err) {
      server.problem("listen_addr", (err as Error).message);
    }
  }
  const tls = server.section("tls");
  tls.rejectUnknown(["enabled", "cert_file", "key_file", "ca_file", "client_auth"]);
  const tlsEnabled = tls.boolean("enabled", false);
  if (tlsEnabled && !tls.string("cert_file")) tls.problem("cert_file", "is required when tls.enabled is true");
  if (tlsEnabled && !tls.string("key_file")) tls.problem("key_file", "is required when tls.enabled is true");
  const clientAuth = tls.oneOf("client_auth", ["none", "require"] as const, "none");
  if (clientAuth === "require" && !tlsEnabled) tls.problem("client_auth", "require needs tls.enabled: true");
  // Without our own CA, any certificate from a public CA would be let in.
  if (clientAuth === "require" && !tls.string("ca_file")) tls.problem("ca_file", "is required when client_auth is require");
  const trustProxy = readTrustProxy(server);
  const auth = server.section("auth");
  auth.rejectUnknown(["tokens", "require_auth"]);
  const rate = server.section("rate_limit");
  rate.rejectUnknown(["enabled", "requests_per_second", "burst", "max_streams_per_token"]);
  const audit = server.section("audit");
  audit.rejectUnknown(["file", "keep"]);
  const registration = root.section("registration");
  registration.rejectUnknown(["heartbeat_interval", "offline_threshold", "forget_after"]);
  const tasks = root.section("tasks");
  tasks.rejectUnknown(["default_priority", "claim_timeout", "max_attempts", "retry_backoff", "retention"]);
  const messages = root.section("messages");
  messages.rejectUnknown(["retention"]);
  const events = root.section("events");
  events.rejectUnknown(["retention", "max_bytes"]);

  const heartbeat = registration.duration("heartbeat_interval", 30_000);
  const offline = registration.duration("offline_threshold", 90_000);
  if (offline <= heartbeat) {
    registration.problem("offline_threshold", "must be longer than registration.heartbeat_interval");
  }
  const store = root.string("store") ?? server.string("store") ?? defaultStoreUrl(env);
  if (!/^(sqlite|memory|redis|rediss|redis\+sentinel|rediss\+sentinel):\/\//.test(store)) {
    root.problem("store", `expected sqlite://PATH, memory://, redis://HOST:PORT/DB or redis+sentinel://HOST:PORT,…/MASTERNAME/DB, got ${JSON.stringify(store)}`);
  }
  return {
    listen,
    store,
    auth: { required: auth.boolean("require_auth", true), tokens: readTokens(auth, warnings) },
    tls: {
      enabled: tlsEnabled,
      cert_file: tls.string("cert_file"),
      key_file: tls.string("key_file"),
      ca_file: tls.string("ca_file"),
      client_auth: clientAuth,
    },
    rate_limit: {
      enabled: rate.boolean("enabled", true),
      requests_per_second: rate.number("requests_per_second", 50, 0.001),
      burst: rate.integer("burst", 100, 1),
      max_streams_per_token: rate.integer("max_streams_per_token", 100, 1),
    },
    audit: { file: audit.string("file"), keep: audit.integer("keep", 10, 1, 1000) },
    heartbeat_interval_ms: heartbeat,
    offline_threshold_ms: offline,
    claim_timeout_ms: tasks.duration("claim_timeout", 300_000),
    default_priority: tasks.oneOf("default_priority", PRIORITIES, "medium"),
    max_attempts: tasks.integer("max_attempts", 3, 1, 100),
    // 0 turns it off (a task failed with retry is pending again at once); it doubles up to 15 m.
    retry_backoff_ms: tasks.duration("retry_backoff", DEFAULT_RETRY_BACKOFF_MS, { allowZero: true, maxMs: MAX_RETRY_BACKOFF_MS }),
    events_retention: events.integer("retention", 10_000, 1),
    events_max_bytes: events.bytes("max_bytes", DEFAULT_EVENT_MAX_BYTES, 64 * 1024),
    retention: {
      tasksMs: tasks.duration("retention", DEFAULT_RETENTION.tasksMs, RETENTION_RANGE),
      messagesMs: messages.duration("retention", DEFAULT_RETENTION.messagesMs, RETENTION_RANGE),
      forgetAfterMs: registration.duration("forget_after", DEFAULT_RETENTION.forgetAfterMs, RETENTION_RANGE),
    },
    log_level: server.oneOf("log_level", ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info"),
    trust_proxy: trustProxy,
    cors: { origins: readCorsOrigins(server) },
    connections: readConnectionLimits(server),
    webhooks: readWebhooks(root),
    webhook_tuning: readWebhookTuning(server),
  };
}

/**
 * `server.cors.origins`: the browser origins allowed to call the API (`https://host[:port]`, no
 * path), or `*` for any; off (empty) by default.
 */
function readCorsOrigins(server: SectionReader): string[] {
  const cors = server.section("cors");
  cors.rejectUnknown(["origins"]);
  const raw = cors.raw.origins;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    cors.problem("origins", "expected a list of origins such as https://dash.example.com");
    return [];
  }
  const origins: string[] = [];
  raw.forEach((item: unknown, i) => {
    if (typeof item === "string" && (item === "*" || /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(item))) {
      origins.push(item);
    } else {
      cors.problem(`origins[${i}]`, `expected an origin like https://dash.example.com:8080 (scheme, host, optional port, no path) or *, got ${JSON.stringify(item)}`);
    }
  });
  return origins;
}

/**
 * `server.trust_proxy`: behind a load balancer, which proxies' X-Forwarded-For to believe, so
 * rate limits and the audit log see the real client address. `true`, a hop count, or a list
 * of addresses/CIDRs; default false.
 */
function readTrustProxy(server: SectionReader): boolean | number | string[] {
  const raw = server.raw.trust_proxy;
  if (raw === undefined || raw === null) return false;
  if (typeof raw === "boolean") return raw;
  if (typeof raw === "number" && Number.isInteger(raw) && raw >= 0) return raw;
  if (Array.isArray(raw) && raw.length > 0 && raw.every((a) => typeof a === "string" && /^[0-9a-fA-F:./]+$/.test(a))) return raw as string[];
  server.problem("trust_proxy", "expected true/false, a hop count, or a list of proxy addresses (CIDR allowed)");
  return false;
}

function readClient(root: SectionReader): ClientConfig {
  const c = root.section("coordination");
  c.rejectUnknown(["enabled", "server_url", "token", "node_id", "labels", "max_workers", "ca_file", "cert_file", "key_file", "timeout", "agent"]);
  const url = c.string("server_url") ?? DEFAULT_SERVER_URL;
  if (!/^https?:\/\/[^/]+/.test(url)) c.problem("server_url", `expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
  return {
    server_url: url,
    token: c.string("token") || undefined,
    node_id: c.string("node_id") || undefined,
    labels: readLabels(c, "labels"),
    max_workers: c.has("max_workers") ? c.integer("max_workers", 1, WORKER_BOUNDS.min, WORKER_BOUNDS.max) : undefined,
    ca_file: c.string("ca_file"),
    cert_file: c.string("cert_file"),
    key_file: c.string("key_file"),
    timeout_ms: c.duration("timeout", DEFAULT_CLIENT_TIMEOUT_MS),
    agent: readAgent(c.section("agent")),
  };
}

export const DEFAULT_WORKER_COMMAND = ["multiclaude", "work", "--repo", "{repo}", "{description}"];
export const DEFAULT_STOP_COMMAND = ["multiclaude", "worker", "rm", "--repo", "{repo}", "{worker}"];

/** A command as a list of arguments, or a string split on whitespace (placeholders are filled per argument). */
function readCommand(a: SectionReader, name: string, fallback: string[]): string[] {
  const raw = a.raw[name];
  if (raw === undefined || raw === null) return fallback;
  const argv = typeof raw === "string" ? raw.trim().split(/\s+/).filter(Boolean) : raw;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((x) => typeof x === "string" && x !== "")) {
    a.problem(name, "expected a non-empty list of arguments (or one string split on spaces)");
    return fallback;
  }
  return argv as string[];
}

/** `coordination.agent`: how `multiclaude-coord agent` runs multiclaude workers. */
function readAgent(a: SectionReader): AgentConfig {
  a.rejectUnknown(["command", "stop_command", "repos", "multiclaude_home", "grace_period", "claim_wait", "heartbeat_interval", "check_interval"]);
  const claimWait = a.duration("claim_wait", 30_000);
  if (claimWait > 300_000) a.problem("claim_wait", "must be at most 300s (the coordinator's limit)");
  return {
    command: readCommand(a, "command", DEFAULT_WORKER_COMMAND),
    stop_command: readCommand(a, "stop_command", DEFAULT_STOP_COMMAND),
    repos: readLabels(a, "repos"),
    multiclaude_home: a.string("multiclaude_home") || undefined,
    grace_period_ms: a.duration("grace_period", 300_000),
    claim_wait_ms: claimWait,
    heartbeat_interval_ms: a.has("heartbeat_interval") ? a.duration("heartbeat_interval", 30_000) : undefined,
    check_interval_ms: a.duration("check_interval", 2_000),
  };
}

/**
 * Turns an expanded config document into the normalised `Config`, applying the defaults.
 * Problems are appended to `problems` (one line each); the result is only meaningful when
 * none were found. What is odd but usable (an empty optional token) lands in `warnings`.
 */
export function normalizeConfig(doc: unknown, env: NodeJS.ProcessEnv, problems: string[]): Config {
  const warnings: string[] = [];
  let raw: Record<string, unknown> = {};
  if (doc !== undefined && doc !== null) {
    if (typeof doc === "object" && !Array.isArray(doc)) raw = doc as Record<string, unknown>;
    else problems.push("(root): expected a mapping with server, coordination, ... sections");
  }
  const root = new SectionReader(raw, "", problems);
  return { server: readServer(root, env, warnings), coordination: readClient(root), warnings };
}
