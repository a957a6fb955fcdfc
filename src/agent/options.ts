import type { Client } from "../client/client.js";
import type { Labels } from "../core/types.js";
import type { AgentLogger } from "./logger.js";

/** Everything `createAgent` needs; `runAgent` fills it from config and flags. */
export interface AgentOptions {
  /** A client for the coordinator; the agent registers it, and closes it when done. */
  client: Client;
  nodeId: string;
  hostname: string;
  labels: Labels;
  /** Tasks held at once (also sent as `capacity.max_workers`). */
  maxWorkers: number;
  /** argv that starts a worker (`{repo}`, `{description}`, `{task_id}`, `{priority}`). */
  command: string[];
  /** argv that stops a worker (`{worker}`, `{repo}`). */
  stopCommand: string[];
  /** Coordinator repo name → local multiclaude repo name. */
  repos: Record<string, string>;
  /** multiclaude's home (state.json, messages/). */
  multiclaudeHome: string;
  /** After SIGTERM, how long running workers may take before their tasks are released. */
  gracePeriodMs: number;
  /** Long-poll wait of one claim request. */
  claimWaitMs: number;
  /** Heartbeat every this often; default: what the coordinator asks for at registration. */
  heartbeatIntervalMs?: number;
  /** How often state.json is read for finished workers. */
  checkIntervalMs: number;
  logger: AgentLogger;
  /**
   * Environment of the commands the agent runs (default process.env), without our secrets:
   * `MULTICLAUDE_COORD_TOKEN` and any variable holding `coordinatorToken` are left out.
   */
  env?: NodeJS.ProcessEnv;
  /** The token the client uses; kept out of the workers' environment under any name. */
  coordinatorToken?: string;
  /** Time a start or stop command may take (default 120s). */
  commandTimeoutMs?: number;
  /** A worker whose process is gone this long without finishing is failed (default 5m). */
  deadWorkerMs?: number;
  /** Pause between stop attempts of one worker (default 1s, 2s). */
  stopRetryMs?: number;
  /** Where held tasks are remembered across restarts (default `<home>/coordination-agent-<node>.json`). */
  ledgerPath?: string;
  /** The clock (tests move it). */
  now?: () => number;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;
export const DEFAULT_DEAD_WORKER_MS = 300_000;
/** Never heartbeat more often than this, whatever the coordinator says (it rounds to seconds, 0 included). */
export const MIN_HEARTBEAT_MS = 100;
