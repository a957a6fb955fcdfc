import { Option, type Command } from "commander";
import { MAX_CONCURRENCY_LIMIT } from "../../core/concurrency.js";
import { labelsSatisfied } from "../../core/labels.js";
import { PRIORITIES, TASK_STATUSES, type Labels, type Priority, type Task, type TaskStatus } from "../../core/types.js";
import { collect, intArg, parseLabels, SERVER_LIMITS, splitList, timeArg } from "../parse.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";
import { pageOptions, printMore, readPages, type PageOptions } from "./paging.js";
import { registerTaskClaims } from "./tasks-claim.js";
import { registerTaskImport } from "./tasks-import.js";
import { printOne, printTask, printTaskChange, printTasks } from "./task-format.js";
import { watchRedraw } from "./watch.js";

interface ListOptions extends PageOptions {
  status?: TaskStatus;
  repo?: string;
  label: string[];
  node?: string;
  watch: boolean;
}

/** `--label` and `--node` filter the tasks of each page the coordinator returns. */
function matches(t: Task, required: Labels, node: string | undefined): boolean {
  return labelsSatisfied(required, t.labels) && (node === undefined || t.claimed_node === node);
}

interface PendingOptions {
  label: string[];
  repo?: string;
  limit?: number;
}

interface CreateOptions {
  repo: string;
  description: string;
  priority?: Priority;
  label: string[];
  maxAttempts?: number;
  idempotencyKey?: string;
  notBefore?: string;
  dependsOn: string[];
  concurrencyKey?: string;
  concurrencyLimit?: number;
  quiet: boolean;
}

/** `tasks [list]`, `pending`, `show`, `create`, `cancel`, `retry`; `import` is in tasks-import.ts, the claimant's verbs in tasks-claim.ts. */
export function registerTasks(program: Command, run: Runner): void {
  const tasks = program.command("tasks").description("List, create, claim and finish tasks");

  pageOptions(
    tasks
      .command("list", { isDefault: true })
      .description("List tasks, newest first")
      .addOption(new Option("--status <status>", "only tasks in this state").choices(TASK_STATUSES))
      .option("--repo <repo>", "only tasks of this repo")
      .option("--label <key=value>", "only tasks with this label (repeatable)", collect, [])
      .option("--node <node-id>", "only tasks claimed by this node")
      .option("-w, --watch", "redraw on every task event (until Ctrl-C)", false)
      .addHelpText("after", examples("tasks --status pending --repo web", "tasks --label pool=gpu --node machine-b -o wide", "tasks --watch")),
  ).action(
    run<ListOptions>(async (ctx, opts) => {
      const client = await ctx.client();
      const required = parseLabels(opts.label);
      const draw = async () => {
        const page = await readPages("tasks", opts, (p) => client.listTasks({ status: opts.status, repo: opts.repo, ...p }));
        const shown = { ...page, tasks: page.tasks.filter((t) => matches(t, required, opts.node)) };
        ctx.out.result(shown, (p) => {
          printTasks(ctx.out, p.tasks);
          printMore(ctx.out, p.next_cursor);
        });
      };
      if (!opts.watch) return draw();
      return watchRedraw(ctx, client, ["task.*"], draw);
    }),
  );

  tasks
    .command("pending")
    .description("Tasks a node with these labels could claim, best first")
    .addHelpText("after", examples("tasks pending --label pool=gpu --repo web"))
    .option("--label <key=value>", "the node's labels (repeatable)", collect, [])
    .option("--repo <repo>", "only tasks of this repo")
    .option("--limit <n>", "at most this many", intArg(1, SERVER_LIMITS.pageSize))
    .action(
      run<PendingOptions>(async (ctx, opts) => {
        const client = await ctx.client();
        const list = await client.getPendingTasks(parseLabels(opts.label), { repo: opts.repo, limit: opts.limit });
        ctx.out.result({ tasks: list }, (r) => printTasks(ctx.out, r.tasks, "no claimable tasks"));
      }),
    );

  tasks
    .command("show")
    .description("Show one task")
    .addHelpText("after", examples("tasks show task-00mwtpx3ly00003ystwo", "tasks show task-00mwtpx3ly00003ystwo --json"))
    .argument("<task-id>")
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
        const client = await ctx.client();
        ctx.out.result(await client.getTask(id), (t) => printTask(ctx.out, t));
      }),
    );

  tasks
    .command("create")
    .description("Create a task")
    .addHelpText("after", examples('tasks create --repo web --description "Fix the login page" --priority high --label pool=gpu', 'tasks create -q --repo web --description "Nightly build" --idempotency-key nightly-2026-12-01', 'tasks create --repo web --description "Deploy after the freeze" --not-before +2h', 'tasks create --repo web --description "Write the client" --depends-on task-00mwtpx3ly00003ystwo', 'tasks create --repo db --description "Run migration 42" --concurrency-key db-migrations'))
    .requiredOption("--repo <repo>", "repository the task is about")
    .requiredOption("--description <text>", "what to do")
    .addOption(new Option("--priority <priority>", "default from tasks.default_priority on the server").choices(PRIORITIES))
    .option("--label <key=value>", "a label the claiming node must have (repeatable)", collect, [])
    .option("--max-attempts <n>", "claims before the task fails for good", intArg(SERVER_LIMITS.maxAttempts.min, SERVER_LIMITS.maxAttempts.max))
    .option("--idempotency-key <key>", "same key → same task (safe to retry)")
    .option("--not-before <time>", "waiting until then: ISO time or +10m, +2h, +1d", (v: string) => timeArg(v))
    .option("--depends-on <task-id>", "waiting until that task completed; cancelled if it fails (repeatable, or comma-separated)", collect, [])
    .option("--concurrency-key <key>", "at most --concurrency-limit tasks with this key are claimed at once")
    .option("--concurrency-limit <n>", "how many tasks of the key may be claimed at once (default 1; needs --concurrency-key)", intArg(1, MAX_CONCURRENCY_LIMIT))
    .option("-q, --quiet", "print only the task id", false)
    .action(
      run<CreateOptions>(async (ctx, opts) => {
        const client = await ctx.client();
        const task = await client.createTask({
          repo: opts.repo,
          description: opts.description,
          priority: opts.priority,
          labels: parseLabels(opts.label),
          max_attempts: opts.maxAttempts,
          idempotency_key: opts.idempotencyKey,
          not_before: opts.notBefore,
          depends_on: opts.dependsOn.length > 0 ? splitList(opts.dependsOn) : undefined,
          concurrency_key: opts.concurrencyKey,
          concurrency_limit: opts.concurrencyLimit,
        });
        // On stderr even with --json or -q: the task exists, but may wait a long time.
        for (const w of task.warnings ?? []) ctx.out.warn(w);
        printOne(ctx.out, task, opts.quiet, "created");
      }),
    );

  tasks
    .command("cancel")
    .description("Cancel an unfinished task (admin token)")
    .addHelpText("after", examples('tasks cancel task-00mwtpx3ly00003ystwo --reason "not needed"'))
    .argument("<task-id>")
    .option("--reason <text>", "why")
    .action(
      run<{ reason?: string }, [string]>(async (ctx, opts, id) => {
        const client = await ctx.client();
        const task = await client.cancelTask(id, { reason: opts.reason });
        ctx.out.result(task, (t) => printTaskChange(ctx.out, t, "cancelled"));
      }),
    );

  tasks
    .command("retry")
    .description("Run a failed or cancelled task again (admin token): pending, attempts reset")
    .addHelpText("after", examples("tasks retry task-00mwtpx3ly00003ystwo"))
    .argument("<task-id>")
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
        const client = await ctx.client();
        ctx.out.result(await client.retryTask(id), (t) => printTaskChange(ctx.out, t, "retried"));
      }),
    );

  registerTaskImport(tasks, run);
  registerTaskClaims(tasks, run);
}
