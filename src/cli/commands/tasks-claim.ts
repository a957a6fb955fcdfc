import type { Command } from "commander";
import type { Client } from "../../client/client.js";
import { ApiError } from "../../client/errors.js";
import type { CommandContext } from "../context.js";
import { EXIT, UserError } from "../errors.js";
import { SERVER_LIMITS, secondsUpTo } from "../parse.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";
import { printOne, printTaskChange } from "./task-format.js";

interface ClaimOptions {
  next: boolean;
  wait?: number;
  worker: string;
  repo?: string;
  quiet: boolean;
}

/** The default worker name for claims made from a shell: who ran the command. */
function defaultWorker(env: NodeJS.ProcessEnv): string {
  return env.MULTICLAUDE_COORD_WORKER || "cli";
}

/**
 * Claims refused with NODE_OFFLINE (no heartbeat for 90s since `register`, as happens when
 * following the README at a reading pace) send one heartbeat for the saved registration and
 * try once more: a person at a shell is evidently alive.
 */
async function whileOnline<T>(ctx: CommandContext, client: Client, claim: () => Promise<T>): Promise<T> {
  try {
    return await claim();
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "NODE_OFFLINE") throw err;
    ctx.out.info("this node was offline (no heartbeat for a while); sent a heartbeat");
    await client.heartbeat();
    return claim();
  }
}

/** `tasks claim|complete|fail|release`: node verbs, using this machine's saved registration. */
export function registerTaskClaims(tasks: Command, run: Runner): void {
  tasks
    .command("claim")
    .description("Claim a task by id, or the best fitting one with --next")
    .addHelpText("after", examples("tasks claim task-00mwtpx3ly00003ystwo --worker worker-1", "tasks claim --next --wait 60 --worker worker-1 -q"))
    .argument("[task-id]", "the task to claim (or use --next)")
    .option("--next", "claim the best task that fits this node", false)
    .option("--wait <seconds>", `with --next: wait this long for a task to appear (max ${SERVER_LIMITS.waitSeconds})`, secondsUpTo(SERVER_LIMITS.waitSeconds))
    .option("--worker <name>", "the worker that will do it (default $MULTICLAUDE_COORD_WORKER or cli)")
    .option("--repo <repo>", "with --next: only tasks of this repo")
    .option("-q, --quiet", "print only the task id", false)
    .action(
      run<Partial<ClaimOptions>, [string | undefined]>(async (ctx, raw, id) => {
        const opts: ClaimOptions = { next: raw.next === true, wait: raw.wait, worker: raw.worker ?? defaultWorker(ctx.env), repo: raw.repo, quiet: raw.quiet === true };
        if (id && opts.next) throw new UserError("give either a task id or --next, not both");
        if (!id && !opts.next) throw new UserError("give a task id, or --next to claim the best fitting task");
        if (id && (opts.wait !== undefined || opts.repo !== undefined)) throw new UserError("--wait and --repo only go with --next");
        const client = await ctx.nodeClient();
        if (id) {
          printOne(ctx.out, await whileOnline(ctx, client, () => client.claimTask(id, opts.worker)), opts.quiet, "claimed");
          return;
        }
        const spinner = opts.wait ? ctx.out.spinner(`waiting up to ${opts.wait}s for a task`) : undefined;
        let task;
        try {
          task = await whileOnline(ctx, client, () =>
            client.claimNext({ workerName: opts.worker, repo: opts.repo, waitSeconds: opts.wait, signal: ctx.interruptSignal() }),
          );
        } catch (err) {
          spinner?.fail();
          if (ctx.interruptSignal().aborted) return EXIT.ERROR;
          throw err;
        }
        spinner?.stop();
        if (!task) {
          // Nothing to do is not an error of the command, but scripts must tell it apart: exit 3.
          if (ctx.out.json) ctx.out.data({ task: null });
          ctx.out.info(opts.wait ? `no task available after waiting ${opts.wait}s` : "no task available");
          return EXIT.NOT_FOUND;
        }
        if (ctx.out.json) ctx.out.data({ task });
        else printOne(ctx.out, task, opts.quiet, "claimed");
      }),
    );

  tasks
    .command("complete")
    .description("Mark a claimed task done (claimant only)")
    .addHelpText("after", examples('tasks complete task-00mwtpx3ly00003ystwo --pr "#42" --summary "login fixed"'))
    .argument("<task-id>")
    .option("--pr <pr>", "the pull request (URL or #42)")
    .option("--summary <text>", "what was done")
    .option("--branch <branch>", "the git branch the work is on (e.g. work/proud-tiger)")
    .action(
      run<{ pr?: string; summary?: string; branch?: string }, [string]>(async (ctx, opts, id) => {
        const client = await ctx.nodeClient();
        const task = await client.completeTask(id, { pr: opts.pr, summary: opts.summary, branch: opts.branch });
        ctx.out.result(task, (t) => printTaskChange(ctx.out, t, "completed"));
      }),
    );

  tasks
    .command("fail")
    .description("Report a claimed task failed; it is retried while attempts remain unless --no-retry")
    .addHelpText("after", examples('tasks fail task-00mwtpx3ly00003ystwo --reason "tests fail on main"', 'tasks fail task-00mwtpx3ly00003ystwo --reason "obsolete" --no-retry'))
    .argument("<task-id>")
    .requiredOption("--reason <text>", "what went wrong")
    .option("--no-retry", "fail it for good")
    .action(
      run<{ reason: string; retry: boolean }, [string]>(async (ctx, opts, id) => {
        const client = await ctx.nodeClient();
        const task = await client.failTask(id, { reason: opts.reason, retry: opts.retry !== false });
        ctx.out.result(task, (t) => printTaskChange(ctx.out, t, t.status === "failed" ? "failed" : "failed, back to pending"));
      }),
    );

  tasks
    .command("release")
    .description("Give a claimed task back to pending (claimant only)")
    .addHelpText("after", examples('tasks release task-00mwtpx3ly00003ystwo --reason "needs a GPU"'))
    .argument("<task-id>")
    .option("--reason <text>", "why")
    .action(
      run<{ reason?: string }, [string]>(async (ctx, opts, id) => {
        const client = await ctx.nodeClient();
        const task = await client.releaseTask(id, { reason: opts.reason });
        ctx.out.result(task, (t) => printTaskChange(ctx.out, t, "released"));
      }),
    );
}
