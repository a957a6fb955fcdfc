import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CoordError } from "../core/errors.js";
import { createCoordinator } from "../coordinator/index.js";
import { defaultTokenFile } from "../config/paths.js";
import type { ServerConfig, TokenEntry } from "../config/types.js";
import { createStore } from "../store/index.js";
import { createApp } from "./app.js";
import { openFileWarning } from "./connections.js";
import { createAuth } from "./auth.js";
import { ensureTokenFile } from "./token-file.js";
import { VERSION } from "./version.js";
import { createWebhookService } from "../webhooks/index.js";

export interface StartServerOptions {
  /** Where to say what happens (listening address, token file); stderr by default. */
  log?: (line: string) => void;
  /** Allow a non-loopback address with auth switched off. */
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  /** pino level for request logs; `silent` unless given. */
  logLevel?: string;
}

export interface RunningServer {
  /** A URL that reaches the server from this machine (loopback when it listens on every interface). */
  url: string;
  /** The address it really bound, `0.0.0.0:7331` or `[::1]:7331`. */
  listen: string;
  /** Bound to every interface (`0.0.0.0` or `::`), so reachable from other machines. */
  everyInterface: boolean;
  port: number;
  /** Set when the zero-config admin token is in use. */
  tokenFile?: string;
  /** The token file was created by this start. */
  tokenCreated: boolean;
  /** `memory`, `sqlite` or `redis`. */
  store: string;
  version: string;
  /** Applies a re-read config's tokens, rate limits and webhooks at run time (SIGHUP); other changes need a restart. */
  reload(config: ServerConfig): Promise<{ webhooks: { added: string[]; removed: string[]; changed: string[] } }>;
  close(): Promise<void>;
}

/** `log`, with a line repeated within a minute dropped (bounded: at most 100 remembered). */
function onceAMinute(log: (line: string) => void): (line: string) => void {
  const seen = new Map<string, number>();
  return (line) => {
    const now = Date.now();
    if (now - (seen.get(line) ?? -Infinity) < 60_000) return;
    if (seen.size > 100) seen.clear();
    seen.set(line, now);
    log(line);
  };
}

/** serve exits within this of SIGTERM, even when the store does not answer (DESIGN §10). */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/** A hop count becomes "trust the nearest N proxies". */
function trustProxyOption(value: ServerConfig["trust_proxy"]): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof value === "number" ? (_address, hop) => hop < value : value;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** Tokens from the config, or the zero-config admin token from its file. */
function resolveTokens(config: ServerConfig, env: NodeJS.ProcessEnv): { tokens: TokenEntry[]; tokenFile?: string; created?: boolean } {
  if (!config.auth.required || config.auth.tokens.length > 0) return { tokens: config.auth.tokens };
  const tokenFile = defaultTokenFile(env);
  const { token, created } = ensureTokenFile(tokenFile);
  return { tokens: [{ token, role: "admin", name: "local-admin" }], tokenFile, created };
}

/**
 * Starts the coordinator as `serve` runs it: store, coordinator with its sweeps, HTTP(S) app,
 * listening. `close()` ends streams and long polls, frees the port and closes the store.
 */
export async function startServer(config: ServerConfig, options: StartServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = options.env ?? process.env;
  const { host, port } = config.listen;
  if (!config.auth.required && !isLoopback(host) && !options.insecure) {
    throw new CoordError(
      "INVALID_REQUEST",
      `refusing to listen on ${host} with auth switched off; use a loopback address, turn auth on, or pass --insecure`,
    );
  }
  const { tokens, tokenFile, created } = resolveTokens(config, env);
  const auth = createAuth({ required: config.auth.required, tokens });

  const store = await createStore(config.store, { retention: config.events_retention, maxEventBytes: config.events_max_bytes });
  const coordinator = createCoordinator({
    store,
    heartbeatIntervalMs: config.heartbeat_interval_ms,
    offlineThresholdMs: config.offline_threshold_ms,
    claimTimeoutMs: config.claim_timeout_ms,
    defaultPriority: config.default_priority,
    defaultMaxAttempts: config.max_attempts,
    retryBackoffMs: config.retry_backoff_ms,
    retention: config.retention,
    version: VERSION,
  });
  // Sweeps run every second and webhook workers retry on their own: a store that is gone for a
  // while is one line a minute per message, not sixty.
  const sweepLog = onceAMinute(log);
  const webhooks = createWebhookService({ store, webhooks: config.webhooks, tuning: config.webhook_tuning, log: onceAMinute(log) });
  const https = config.tls.enabled
    ? {
        cert: readFileSync(config.tls.cert_file!),
        key: readFileSync(config.tls.key_file!),
        ...(config.tls.ca_file ? { ca: readFileSync(config.tls.ca_file) } : {}),
        requestCert: config.tls.client_auth === "require",
        rejectUnauthorized: config.tls.client_auth === "require",
      }
    : undefined;
  const limits = { ...config.rate_limit };
  const app = createApp({
    coordinator,
    auth,
    rateLimit: limits,
    maxStreamsPerToken: config.rate_limit.max_streams_per_token,
    audit: config.audit.file ? { file: config.audit.file, keep: config.audit.keep } : undefined,
    version: VERSION,
    corsOrigins: config.cors.origins,
    webhooks,
    connections: config.connections,
    // Request logs go to stderr: stdout is for `--json` answers only.
    logger: options.logLevel && options.logLevel !== "silent" ? { level: options.logLevel, stream: process.stderr } : false,
    fastify: { ...(https ? { https } : {}), trustProxy: trustProxyOption(config.trust_proxy) },
  });
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => {});
    await store.close();
    throw err;
  }
  coordinator.start((err) => sweepLog(`sweep failed: ${(err as Error).message}`));
  webhooks.start();
  const address = app.server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  const boundHost = typeof address === "object" && address ? address.address : host;
  const bracket = (h: string) => (h.includes(":") ? `[${h}]` : h);
  const everyInterface = boundHost === "0.0.0.0" || boundHost === "::";
  const scheme = https ? "https" : "http";
  const localHost = everyInterface ? (boundHost === "::" ? "[::1]" : "127.0.0.1") : bracket(host);
  const url = `${scheme}://${localHost}:${actualPort}`;
  // Where it listens and the token file are the caller's to print (see RunningServer).
  if (!config.auth.required) log("warning: authentication is switched off");
  const fileLimit = openFileWarning(config.connections.max_connections);
  if (fileLimit) log(fileLimit);

  let closing: Promise<void> | undefined;
  return {
    url,
    listen: `${bracket(boundHost)}:${actualPort}`,
    everyInterface,
    port: actualPort,
    tokenFile,
    tokenCreated: created ?? false,
    store: store.backend,
    version: VERSION,
    async reload(next) {
      // With no tokens configured the zero-config token stays in force.
      auth.setTokens({ required: next.auth.required, tokens: next.auth.tokens.length ? next.auth.tokens : resolveTokens(next, env).tokens });
      Object.assign(limits, next.rate_limit);
      return { webhooks: await webhooks.reload(next.webhooks) };
    },
    close() {
      closing ??= (async () => {
        const graceful = (async () => {
          await app.close();
          await webhooks.stop();
          await store.close();
        })();
        // Whatever the store does (a Redis going away as we stop), serve is done by the deadline.
        const timer = sleep(SHUTDOWN_DEADLINE_MS, "late" as const, { ref: false });
        if ((await Promise.race([graceful.then(() => "done" as const), timer])) === "late") {
          graceful.catch(() => {}); // still running; its failure no longer matters
          app.server.closeAllConnections();
          log(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS / 1000} s (the store did not let go); stopping anyway`);
        }
      })();
      return closing;
    },
  };
}
