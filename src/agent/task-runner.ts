import { isApiError } from "../client/errors.js";
import { errorText, isTransient, type AgentContext, type HeldTask, type Outcome } from "./context.js";
import { findPr } from "./gh-pr.js";
import { apiText } from "./heartbeat-report.js";
import { isPidAlive, workerOutcome, type McState } from "./multiclaude-state.js";
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_DEAD_WORKER_MS } from "./options.js";
import { commandFailure, fillCommand, parseWorkerName, runCommand, taskArgument } from "./worker-runner.js";
import { stopWorker } from "./worker-stop.js";

export { stopWorker } from "./worker-stop.js";

/**
 * Starts the worker of a freshly claimed task with the configured command and learns its
 * name from the output (`Creating worker 'NAME' ...`, checked against state.json), or else from a
 * new agent in state.json with the same task text. A start that fails leaves no worker: the task
 * is released with the reason (the coordinator does not hand it straight back to this node) and
 * the claim loop backs off before it spends the slot again.
 */
export async function startWorker(ctx: AgentContext, held: HeldTask): Promise<void> {
  const { task } = held;
  const description = taskArgument(task.description);
  const argv = fillCommand(ctx.options.command, {
    repo: held.localRepo,
    description,
    task: description,
    task_id: task.id,
    priority: task.priority,
  });
  const result = await runCommand(argv, { env: ctx.env, timeoutMs: ctx.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS });
  const state = ctx.readState();
  const printed = parseWorkerName(`${result.stdout}\n${result.stderr}`)?.worker;
  // multiclaude prints the name before it fails (an uninitialised repo): only a listed agent exists.
  const worker = printed && state.repos[held.localRepo]?.agents?.[printed] ? printed : findNewAgent(ctx, held, state);
  if (ctx.held.get(task.id) !== held || held.phase === "stopping") {
    // Released while starting (the grace period ran out): the worker must not run on unclaimed.
    held.worker = worker;
    await stopWorker(ctx, held);
    return;
  }
  if (result.code !== 0 || !worker) {
    if (worker) {
      held.worker = worker;
      await stopWorker(ctx, held);
    }
    if (held.cancelRequested) return drop(ctx, held, "cancelled on the coordinator while its worker was starting");
    const reason =
      result.code !== 0
        ? commandFailure(argv, result)
        : `${argv.slice(0, 2).join(" ")} succeeded but printed no "Creating worker 'NAME'" line and state.json lists no new agent for this task`;
    ctx.log.log("warn", "worker.start_failed", `could not start a worker for ${task.id}: ${reason}`, { task_id: task.id, repo: task.repo });
    ctx.startFailed();
    return releaseHeld(ctx, held, `start failed on ${ctx.options.nodeId}: ${reason}`);
  }
  held.worker = worker;
  held.phase = "running";
  ctx.startSucceeded();
  ctx.changed();
  ctx.log.log("info", "worker.started", `started ${task.id} as worker ${worker} in repo ${held.localRepo}`, {
    task_id: task.id,
    worker,
    repo: task.repo,
    local_repo: held.localRepo,
  });
  if (held.cancelRequested) await stopAndDrop(ctx, held, "cancelled on the coordinator");
}

/** The task's text as multiclaude records it for the worker: as given, or as passed on. */
function taskTexts(task: Pick<HeldTask["task"], "description">): string[] {
  return [task.description, taskArgument(task.description)];
}

/** An agent of the task's repo running exactly this task text (as passed on) that no held task owns yet. */
export function findNewAgent(ctx: Pick<AgentContext, "held">, held: Pick<HeldTask, "localRepo" | "task">, state: McState): string | undefined {
  const agents = state.repos[held.localRepo]?.agents ?? {};
  const taken = new Set([...ctx.held.values()].map((h) => h.worker).filter(Boolean));
  const texts = taskTexts(held.task);
  return Object.entries(agents).find(([name, a]) => a?.type !== "supervisor" && typeof a?.task === "string" && texts.includes(a.task) && !taken.has(name))?.[0];
}

/**
 * Looks at every running worker in one state.json snapshot and reports the ones that are done
 * (DESIGN §15): gone from `agents` with a history entry that is not `failed` is a success (its PR
 * looked up by branch with gh), `failed` a failure, gone without an entry was removed by hand.
 * A worker whose process has been gone for `deadWorkerMs` while multiclaude still lists it fails.
 */
export async function checkWorkers(ctx: AgentContext, state: McState): Promise<void> {
  const deadAfter = ctx.options.deadWorkerMs ?? DEFAULT_DEAD_WORKER_MS;
  for (const held of [...ctx.held.values()]) {
    if (held.phase === "reporting" && held.outcome) {
      await report(ctx, held); // an earlier attempt met an outage
      continue;
    }
    if (held.phase !== "running" || !held.worker) continue;
    const texts = taskTexts(held.task);
    let o = workerOutcome(state, held.localRepo, held.worker, held.startedAt, isPidAlive, texts);
    // The snapshot may predate this worker (it started while an earlier report of this pass was
    // awaited): a worker is only ever found done on a read made after it was known.
    if (o.kind !== "running") o = workerOutcome(ctx.readState(), held.localRepo, held.worker, held.startedAt, isPidAlive, texts);
    if (o.kind === "running") {
      if (o.alive === false) {
        held.deadSince ??= ctx.now();
        if (ctx.now() - held.deadSince >= deadAfter) {
          await finish(ctx, held, { kind: "fail", reason: `worker ${held.worker} stopped running without finishing`, retry: true });
        }
      } else {
        held.deadSince = undefined;
      }
      continue;
    }
    if (o.kind === "completed") await finish(ctx, held, { kind: "complete", summary: o.summary, branch: o.branch, pr: o.pr ?? (await lookUpPr(ctx, held, o.branch)) });
    else if (o.kind === "failed") await finish(ctx, held, { kind: "fail", reason: o.reason, retry: true });
    else await finish(ctx, held, { kind: "fail", reason: `worker ${held.worker} was removed from multiclaude before it finished (no task history entry)`, retry: true });
  }
}

let ghNoted = false;

/** The PR of a finished worker's branch, when gh can tell; undefined otherwise (logged once per process). */
async function lookUpPr(ctx: AgentContext, held: HeldTask, branch: string | undefined): Promise<string | undefined> {
  if (!branch) return undefined;
  const r = await findPr(branch, { multiclaudeHome: ctx.options.multiclaudeHome, localRepo: held.localRepo, env: ctx.env });
  if ("found" in r) return r.found.url;
  if ("unavailable" in r && !ghNoted) {
    ghNoted = true;
    ctx.log.log("info", "pr.lookup_unavailable", `cannot look up PRs (${r.unavailable}); tasks are completed with their branch and no PR`, { task_id: held.task.id });
  }
  return undefined;
}

/** Records the outcome and reports it; an outage keeps it for the next check. */
async function finish(ctx: AgentContext, held: HeldTask, outcome: Outcome): Promise<void> {
  held.phase = "reporting";
  held.outcome = outcome;
  ctx.changed();
  await report(ctx, held);
}

async function report(ctx: AgentContext, held: HeldTask): Promise<void> {
  const { task, outcome } = held;
  if (!outcome) return;
  const fields = { task_id: task.id, worker: held.worker, repo: task.repo };
  try {
    if (outcome.kind === "complete") {
      await ctx.client.completeTask(task.id, {
        pr: outcome.pr ? apiText(outcome.pr, 2048) : undefined,
        summary: outcome.summary ? apiText(outcome.summary, 65_536) : undefined,
        branch: outcome.branch && /^[^\s~^:?*[\\]{1,255}$/.test(outcome.branch) ? outcome.branch : undefined,
      });
      const what = outcome.pr ? ` with ${outcome.pr}` : outcome.branch ? ` on branch ${outcome.branch} (no PR found)` : " (no PR)";
      ctx.log.log("info", "task.completed", `completed ${task.id}${what}`, { ...fields, pr: outcome.pr, branch: outcome.branch });
    } else {
      const reason = apiText(outcome.reason, 65_536) || "worker failed";
      const t = await ctx.client.failTask(task.id, { reason, retry: outcome.retry });
      ctx.log.log("info", "task.failed", `failed ${task.id}: ${outcome.reason}${t.status === "pending" ? " (back to pending)" : ""}`, { ...fields, reason: outcome.reason });
    }
  } catch (err) {
    if (isTransient(err)) {
      ctx.log.log("warn", "task.report_deferred", `cannot report ${task.id} yet (${errorText(err)}); will retry`, fields);
      return;
    }
    // Cancelled meanwhile, taken over after its lease ran out, or unknown to a coordinator that lost its state.
    ctx.log.log("warn", "task.report_refused", `the coordinator refused the result of ${task.id}: ${errorText(err)}; dropping it`, fields);
  }
  ctx.held.delete(task.id);
  ctx.changed();
}

/** Stops the worker of a task the coordinator cancelled and forgets the task. */
async function stopAndDrop(ctx: AgentContext, held: HeldTask, why: string): Promise<void> {
  held.phase = "stopping";
  ctx.log.log("info", "task.cancelled", `${held.task.id} was ${why}`, { task_id: held.task.id, worker: held.worker });
  await stopWorker(ctx, held);
  ctx.held.delete(held.task.id);
  ctx.changed();
}

/**
 * Heartbeat said these tasks were cancelled: stop their workers (a starting one once it has a
 * name). The coordinator repeats an announcement in several heartbeat answers (so a lost one
 * hides nothing), and answers may overlap while a stop command runs: a task already stopped,
 * being stopped or released, already marked, finished and reported, or never held here is left
 * alone, without a log line.
 */
export async function cancelTasks(ctx: AgentContext, ids: readonly string[]): Promise<void> {
  for (const id of new Set(ids)) {
    const held = ctx.held.get(id);
    if (!held || held.phase === "stopping" || held.cancelRequested) continue;
    if (held.phase === "starting") held.cancelRequested = true;
    else if (held.phase === "reporting") drop(ctx, held, "cancelled on the coordinator after its worker finished; its result is dropped");
    else await stopAndDrop(ctx, held, "cancelled on the coordinator");
  }
}

/** Forgets a cancelled task whose worker does not run (finished, or never started). */
function drop(ctx: AgentContext, held: HeldTask, why: string): void {
  held.phase = "stopping";
  ctx.log.log("info", "task.cancelled", `${held.task.id} was ${why}`, { task_id: held.task.id, worker: held.worker });
  ctx.held.delete(held.task.id);
  ctx.changed();
}

/**
 * Gives a task back (pending for another node) once its worker is stopped, so it never runs
 * twice. A worker that cannot be stopped keeps its claim (renewed while the agent runs, and
 * remembered in the ledger); if the coordinator cannot be told, the claim is left to lease expiry.
 */
export async function releaseHeld(ctx: AgentContext, held: HeldTask, reason: string): Promise<void> {
  held.phase = "stopping";
  if (!(await stopWorker(ctx, held))) {
    ctx.log.log("error", "task.release_skipped", `not releasing ${held.task.id}: its worker ${held.worker} is still running`, { task_id: held.task.id });
    held.phase = "running";
    ctx.changed();
    return;
  }
  try {
    await ctx.client.releaseTask(held.task.id, { reason: apiText(reason, 4096) });
    ctx.log.log("info", "task.released", `released ${held.task.id}: ${reason}`, { task_id: held.task.id, worker: held.worker });
  } catch (err) {
    const level = isApiError(err) && !isTransient(err) ? "info" : "warn";
    ctx.log.log(level, "task.release_failed", `could not release ${held.task.id} (${errorText(err)}); its lease will expire`, { task_id: held.task.id });
  }
  ctx.held.delete(held.task.id);
  ctx.changed();
}
