import { setTimeout as sleep } from "node:timers/promises";
import type { AgentContext, HeldTask } from "./context.js";
import { DEFAULT_COMMAND_TIMEOUT_MS } from "./options.js";
import { commandFailure, fillCommand, outputTail, runCommand, type CommandResult } from "./worker-runner.js";

/** How often a stop command is run before the agent gives up on a worker (and says so). */
export const STOP_ATTEMPTS = 3;

/**
 * `worker rm` asks `Continue with cleanup? [y/N]` for a dirty worktree and again for unpushed
 * commits, and on EOF prints `Cleanup cancelled` and exits 0 with nothing removed: every
 * question is answered yes (more lines than it ever asks).
 */
const YES = "y\n".repeat(16);

/** Where a worker to stop lives: its name and local repo (a held task, or a ledger entry of an earlier run). */
export type WorkerRef = Pick<HeldTask, "worker" | "localRepo"> & { task: { id: string } };

/**
 * Stops a worker with the stop command (`multiclaude worker rm --repo REPO NAME`, every prompt
 * answered yes), then checks in state.json that multiclaude no longer lists it; an exit code of 0
 * proves nothing (`Cleanup cancelled`). Tries `STOP_ATTEMPTS` times, then logs the failure with
 * the command's output and returns false. Never throws.
 */
export async function stopWorker(ctx: AgentContext, held: WorkerRef): Promise<boolean> {
  const worker = held.worker;
  if (!worker) return true;
  const argv = fillCommand(ctx.options.stopCommand, { worker, repo: held.localRepo, task_id: held.task.id });
  const fields = { task_id: held.task.id, worker, repo: held.localRepo };
  let last: CommandResult | undefined;
  for (let attempt = 1; attempt <= STOP_ATTEMPTS; attempt++) {
    if (!listed(ctx, held.localRepo, worker)) {
      ctx.log.log("info", "worker.stopped", `stopped worker ${worker} (${held.task.id})`, fields);
      return true;
    }
    last = await runCommand(argv, { env: ctx.env, timeoutMs: ctx.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, input: YES });
    if (!listed(ctx, held.localRepo, worker)) {
      ctx.log.log("info", "worker.stopped", `stopped worker ${worker} (${held.task.id})`, fields);
      return true;
    }
    if (attempt < STOP_ATTEMPTS) await sleep(ctx.options.stopRetryMs ?? 1000 * attempt);
  }
  ctx.log.log("error", "worker.stop_failed", `could not stop worker ${worker} (${held.task.id}): ${why(argv, last)}; multiclaude still lists it, stop it by hand`, {
    ...fields,
    output: last ? outputTail(last, 10) : undefined,
  });
  return false;
}

/** Whether multiclaude (a fresh read of state.json) still lists the worker. */
function listed(ctx: AgentContext, localRepo: string, worker: string): boolean {
  return ctx.readState().repos[localRepo]?.agents?.[worker] !== undefined;
}

function why(argv: readonly string[], r: CommandResult | undefined): string {
  if (!r) return "not run";
  if (r.code === 0 && /Cleanup cancelled/.test(r.stdout)) return `${argv.slice(0, 3).join(" ")} answered "Cleanup cancelled"`;
  if (r.code === 0) return `${argv.slice(0, 3).join(" ")} exited 0 but the worker is still there`;
  return commandFailure(argv, r);
}
