import { Option, type Command } from "commander";
import type { Client } from "../../client/client.js";
import { NODE_STATUSES, type Node, type NodeStatus, type Task } from "../../core/types.js";
import { ago, labels, plural, status } from "../output/format.js";
import type { Output } from "../output/output.js";
import { collect, parseLabels } from "../parse.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";
import { pageOptions, printMore, readPages, type PageOptions } from "./paging.js";
import { printTasks } from "./task-format.js";
import { watchRedraw } from "./watch.js";

interface ListOptions extends PageOptions {
  status?: NodeStatus;
  label: string[];
  watch: boolean;
}

/** Deregistered nodes older than this are hidden unless `--all`. */
export const HIDE_DEREGISTERED_AFTER_MS = 60 * 60 * 1000;

/** A node that sends no heartbeats: what it last said about itself is no longer known. */
function live(n: Node): boolean {
  return n.status === "online";
}

/** Claims the coordinator holds for the node / its worker limit: always known, unlike the reported workers. */
function claims(n: Node): string {
  return `${n.claimed_tasks.length}/${n.capacity.max_workers}`;
}

/** Liveness, plus "(cordoned)" while an admin keeps the node out of rotation. */
function nodeStatus(out: Output, n: Node): string {
  return n.cordoned ? `${status(out.c, n.status)} ${out.c.yellow("(cordoned)")}` : status(out.c, n.status);
}

function percent(v: number | undefined): string {
  return v === undefined ? "-" : `${Math.round(v)}%`;
}

/** Nodes to show: without `--all`, those deregistered more than an hour ago are left out. */
export function visibleNodes(nodes: Node[], all: boolean, now = Date.now()): Node[] {
  if (all) return nodes;
  return nodes.filter((n) => n.status !== "deregistered" || now - Date.parse(n.last_seen) < HIDE_DEREGISTERED_AFTER_MS);
}

function printNodes(out: Output, nodes: Node[]): void {
  out.table(
    [
      "NODE",
      "STATUS",
      "HEALTH",
      "CLAIMS",
      "AGENTS",
      "LAST SEEN",
      { title: "WORKERS", wide: true },
      { title: "CPU", wide: true },
      { title: "MEM", wide: true },
      { title: "HOSTNAME", wide: true },
      { title: "LABELS", flex: true },
    ],
    nodes.map((n) => [
      n.id,
      nodeStatus(out, n),
      status(out.c, live(n) ? n.health : "unknown"),
      claims(n),
      live(n) ? n.agents.length : "-",
      ago(n.last_seen),
      live(n) ? `${n.capacity.current_workers}/${n.capacity.max_workers}` : "-",
      live(n) ? percent(n.metrics.cpu_percent) : "-",
      live(n) ? percent(n.metrics.memory_percent) : "-",
      n.hostname,
      labels(n.labels),
    ]),
    "no nodes registered",
  );
}

function printNode(out: Output, n: Node, tasks: Task[]): void {
  const known = live(n);
  out.fields([
    ["node", n.id],
    ["hostname", n.hostname],
    ["status", nodeStatus(out, n)],
    ["health", status(out.c, known ? n.health : "unknown")],
    ["claims", claims(n)],
    ["workers", known ? `${n.capacity.current_workers}/${n.capacity.max_workers}` : "unknown"],
    ["cpu", known ? percent(n.metrics.cpu_percent) : "unknown"],
    ["memory", known ? percent(n.metrics.memory_percent) : "unknown"],
    ["labels", labels(n.labels)],
    ["registered", `${n.registered_at} (${ago(n.registered_at)})`],
    ["last seen", `${n.last_seen} (${ago(n.last_seen)})`],
    ["repos", n.repos.map((r) => `${r.name} (${plural(r.active_prs, "PR")})`).join(", ")],
  ]);
  if (n.agents.length && known) {
    out.line();
    out.table(
      ["AGENT", "TYPE", "STATUS", "REPO", { title: "TASK", flex: true }],
      n.agents.map((a) => [a.name, a.type, a.status, a.repo ?? "-", a.task ?? "-"]),
    );
  }
  if (tasks.length) {
    out.line();
    printTasks(out, tasks);
  }
}

/** The tasks a node holds, read one by one (a node holds at most max_workers of them). */
async function claimedTasks(client: Client, n: Node): Promise<Task[]> {
  const tasks = await Promise.all(n.claimed_tasks.slice(0, 100).map((id) => client.getTask(id).catch(() => undefined)));
  return tasks.filter((t): t is Task => t !== undefined);
}

/** `nodes [list]`, `nodes show ID`, `nodes forget ID`, `nodes cordon|uncordon ID`. */
export function registerNodes(program: Command, run: Runner): void {
  const nodes = program.command("nodes").description("List registered nodes, show one, cordon, uncordon or forget one");
  pageOptions(
    nodes
      .command("list", { isDefault: true })
      .description("List registered nodes by id (claims held / max workers); --all: every page, and nodes deregistered over an hour ago")
      .addOption(new Option("--status <status>", "only nodes with this status").choices(NODE_STATUSES))
      .option("--label <key=value>", "only nodes with this label (repeatable)", collect, [])
      .option("-w, --watch", "redraw on every node, agent or task event (until Ctrl-C)", false)
      .addHelpText("after", examples("nodes --label pool=gpu", "nodes -o wide --watch", "nodes --all")),
  ).action(
    run<ListOptions>(async (ctx, opts) => {
      const client = await ctx.client();
      const labels = parseLabels(opts.label);
      const draw = async () => {
        const page = await readPages("nodes", opts, (p) => client.listNodesPage({ status: opts.status, labels, ...p }));
        ctx.out.result({ ...page, nodes: visibleNodes(page.nodes, opts.all) }, (r) => {
          printNodes(ctx.out, r.nodes);
          printMore(ctx.out, r.next_cursor);
        });
      };
      if (!opts.watch) return draw();
      return watchRedraw(ctx, client, ["node.*", "task.*", "agent.*"], draw);
    }),
  );
  nodes
    .command("show")
    .description("Show one node: health, claims, CPU/memory, labels, agents, claimed tasks")
    .addHelpText("after", examples("nodes show machine-b"))
    .argument("<node-id>", "the node's id")
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
        const client = await ctx.client();
        const node = await client.getNode(id);
        if (ctx.out.json) return ctx.out.data(node);
        const tasks = await claimedTasks(client, node);
        // Through result(): what the coordinator sent is escaped before it reaches the terminal.
        ctx.out.result({ node, tasks }, (r) => printNode(ctx.out, r.node, r.tasks));
      }),
    );
  nodes
    .command("forget")
    .description("Forget a node now (admin): its claims go back to pending, its undelivered messages are dropped")
    .addHelpText("after", examples("nodes forget machine-d"))
    .argument("<node-id>", "the node's id")
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
        const client = await ctx.client();
        ctx.out.result(await client.forgetNode(id), (r) => {
          const released = r.released_tasks.length ? `; released ${r.released_tasks.join(", ")}` : "";
          ctx.out.success(`forgot node ${ctx.out.c.bold(r.node_id)}${released}`);
        });
      }),
    );
  for (const [verb, on] of [["cordon", true], ["uncordon", false]] as const) {
    nodes
      .command(verb)
      .description(
        on
          ? "Cordon a node (admin): it keeps its claims and finishes them, but gets no new tasks until uncordoned"
          : "Uncordon a node (admin): it takes new tasks again",
      )
      .addHelpText("after", examples(`nodes ${verb} machine-b`))
      .argument("<node-id>", "the node's id")
      .action(
        run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
          const client = await ctx.client();
          const node = on ? await client.cordonNode(id) : await client.uncordonNode(id);
          ctx.out.result(node, (n) => {
            const held = n.claimed_tasks.length ? `; it keeps its ${plural(n.claimed_tasks.length, "claim")}` : "";
            ctx.out.success(on ? `cordoned node ${ctx.out.c.bold(n.id)}: no new tasks${held}` : `uncordoned node ${ctx.out.c.bold(n.id)}: it takes new tasks again`);
          });
        }),
      );
  }
}
