import { InvalidArgumentError, type Command } from "commander";
import { runAgent, type AgentFlags } from "../../agent/index.js";
import { parseDuration } from "../../core/duration.js";
import { collect, intArg, parseLabels, SERVER_LIMITS } from "../parse.js";
import type { Runner } from "../runner.js";

interface AgentCommandOptions {
  nodeId?: string;
  hostname?: string;
  label: string[];
  maxWorkers?: number;
  heartbeatInterval?: number;
  claimWait?: number;
  gracePeriod?: number;
  checkInterval?: number;
  multiclaudeHome?: string;
  repoMap: string[];
}

/** Commander parser for `500ms`, `30s`, `5m` (or bare seconds) → milliseconds > 0. */
function durationArg(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new InvalidArgumentError(`expected a duration such as 500ms, 30s or 5m, got "${value}"`);
  }
  if (ms <= 0) throw new InvalidArgumentError(`expected a duration > 0, got "${value}"`);
  return ms;
}

/** The typed flags for runAgent. */
export function agentFlags(opts: AgentCommandOptions): AgentFlags {
  return {
    nodeId: opts.nodeId,
    hostname: opts.hostname,
    labels: parseLabels(opts.label),
    maxWorkers: opts.maxWorkers,
    heartbeatIntervalMs: opts.heartbeatInterval,
    claimWaitMs: opts.claimWait,
    gracePeriodMs: opts.gracePeriod,
    checkIntervalMs: opts.checkInterval,
    multiclaudeHome: opts.multiclaudeHome,
    repos: parseLabels(opts.repoMap, "--repo-map"),
  };
}

/** `agent`: turn this machine into a worker pool that claims tasks and runs multiclaude workers. */
export function registerAgent(program: Command, run: Runner): void {
  program
    .command("agent")
    .description("Run this machine as a worker pool: claim fitting tasks, start multiclaude workers, report their PRs (SIGTERM drains)")
    .option("--node-id <id>", "this node's id (default coordination.node_id, else the hostname)")
    .option("--hostname <name>", "reported hostname (default the machine's)")
    .option("--label <key=value>", "a label of this node (repeatable; replaces coordination.labels)", collect, [])
    .option("--max-workers <n>", `tasks run at once, 1-${SERVER_LIMITS.workers.max} (default coordination.max_workers, else 1)`, intArg(1, SERVER_LIMITS.workers.max))
    .option("--heartbeat-interval <duration>", "heartbeat every (default coordination.agent.heartbeat_interval, else what the coordinator asks)", durationArg)
    .option("--claim-wait <duration>", "long-poll wait of a claim (default coordination.agent.claim_wait, 30s)", durationArg)
    .option("--grace-period <duration>", "on SIGTERM, how long workers may finish before their tasks are released (default 5m)", durationArg)
    .option("--check-interval <duration>", "how often multiclaude's state.json is read (default 2s)", durationArg)
    .option("--multiclaude-home <dir>", "multiclaude's home (default coordination.agent.multiclaude_home, else ~/.multiclaude)")
    .option("--repo-map <name=local>", "coordinator repo name = local multiclaude repo name (repeatable)", collect, [])
    .action(
      run<AgentCommandOptions>(async (ctx, opts) => {
        const flags = agentFlags(opts);
        const config = await ctx.clientConfig();
        const client = await ctx.client();
        return runAgent({ client, config, flags, env: ctx.env, logStream: ctx.io.stderr, json: ctx.globals.json });
      }),
    );
}
