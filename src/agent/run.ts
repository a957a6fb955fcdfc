import { hostname as osHostname } from "node:os";
import type { Client } from "../client/client.js";
import { ConfigError } from "../config/errors.js";
import { multiclaudeHome } from "../config/paths.js";
import type { ClientConfig } from "../config/types.js";
import type { Labels } from "../core/types.js";
import { createAgent, EXIT_INTERRUPTED } from "./agent.js";
import { createLogger } from "./logger.js";
import type { AgentOptions } from "./options.js";
import { resolveExecutable } from "./worker-runner.js";

/** What `multiclaude-coord agent` takes on the command line; each wins over the config file. */
export interface AgentFlags {
  nodeId?: string;
  hostname?: string;
  /** Replace `coordination.labels` when not empty. */
  labels?: Labels;
  maxWorkers?: number;
  heartbeatIntervalMs?: number;
  claimWaitMs?: number;
  gracePeriodMs?: number;
  checkIntervalMs?: number;
  multiclaudeHome?: string;
  /** Added to (and winning over) `coordination.agent.repos`. */
  repos?: Record<string, string>;
}

export interface RunAgentOptions {
  /** A client for the coordinator (TLS, token, timeout already applied). */
  client: Client;
  /** The resolved `coordination` config. */
  config: ClientConfig;
  flags?: AgentFlags;
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (stderr for the CLI). */
  logStream: { write(chunk: string): unknown };
  /** One JSON object per log line. */
  json?: boolean;
  /** Install SIGTERM/SIGINT handlers: the first drains, the second stops at once (default true). */
  handleSignals?: boolean;
}

/** Flags > config > defaults (node id: the hostname; multiclaude home: `~/.multiclaude`). */
export function resolveAgentOptions(
  config: ClientConfig,
  flags: AgentFlags,
  env: NodeJS.ProcessEnv,
): Omit<AgentOptions, "client" | "logger"> {
  const a = config.agent;
  const host = flags.hostname ?? osHostname();
  const labels = flags.labels && Object.keys(flags.labels).length ? flags.labels : config.labels;
  return {
    nodeId: flags.nodeId ?? config.node_id ?? osHostname(),
    hostname: host,
    labels,
    maxWorkers: flags.maxWorkers ?? config.max_workers ?? 1,
    command: a.command,
    stopCommand: a.stop_command,
    repos: { ...a.repos, ...flags.repos },
    multiclaudeHome: flags.multiclaudeHome ?? a.multiclaude_home ?? multiclaudeHome(env),
    gracePeriodMs: flags.gracePeriodMs ?? a.grace_period_ms,
    claimWaitMs: Math.min(300_000, flags.claimWaitMs ?? a.claim_wait_ms),
    heartbeatIntervalMs: flags.heartbeatIntervalMs ?? a.heartbeat_interval_ms,
    checkIntervalMs: flags.checkIntervalMs ?? a.check_interval_ms,
    env,
  };
}

/**
 * Runs `multiclaude-coord agent` until it is drained or stopped; returns the exit code
 * (0 after a drain, 130 after a second signal). Fails fast (ConfigError, exit 2) when the
 * worker command is not on PATH, so a misconfigured node never claims tasks it cannot start.
 */
export async function runAgent(o: RunAgentOptions): Promise<number> {
  const env = o.env ?? process.env;
  const resolved = resolveAgentOptions(o.config, o.flags ?? {}, env);
  for (const [key, argv] of [["command", resolved.command], ["stop_command", resolved.stopCommand]] as const) {
    if (!resolveExecutable(argv[0]!, env)) {
      throw new ConfigError([`coordination.agent.${key}: ${JSON.stringify(argv[0])} is not an executable on PATH (is multiclaude installed?)`]);
    }
  }
  const logger = createLogger({ stream: o.logStream, json: o.json === true });
  // Workers run task text anyone with a node token wrote: they never see the token.
  const agent = createAgent({ ...resolved, client: o.client, logger, coordinatorToken: o.config.token });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      agent.drain(`${signal} received`);
      return;
    }
    agent.stopNow(`${signal} received again`);
    // Last resort if a start command or a retry timer still holds the event loop.
    setTimeout(() => process.exit(EXIT_INTERRUPTED), 2000).unref();
  };
  if (o.handleSignals !== false) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
  try {
    return await agent.run();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}
