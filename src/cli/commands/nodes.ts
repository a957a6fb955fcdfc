import { Option, type Command } from "commander";
import { NODE_STATUSES, type Node, type NodeStatus } from "../../core/types.js";
import { ago, labels, status } from "../output/format.js";
import type { Output } from "../output/output.js";
import { collect, parseLabels } from "../parse.js";
import type { Runner } from "../runner.js";
import { pageOptions, printMore, readPages, type PageOptions } from "./paging.js";

interface ListRaw extends PageOptions {
  status?: NodeStatus;
  label?: string[];
}

function printNodes(out: Output, nodes: Node[]): void {
  out.table(
    ["NODE", "STATUS", "HEALTH", "WORKERS", "LABELS", "AGENTS", "LAST SEEN"],
    nodes.map((n) => [
      n.id,
      status(out.c, n.status),
      status(out.c, n.health),
      `${n.capacity.current_workers}/${n.capacity.max_workers}`,
      labels(n.labels),
      n.agents.length,
      ago(n.last_seen),
    ]),
    "no nodes registered",
  );
}

function printNode(out: Output, n: Node): void {
  out.fields([
    ["node", n.id],
    ["hostname", n.hostname],
    ["status", status(out.c, n.status)],
    ["health", status(out.c, n.health)],
    ["workers", `${n.capacity.current_workers}/${n.capacity.max_workers}`],
    ["labels", labels(n.labels)],
    ["registered", `${n.registered_at} (${ago(n.registered_at)})`],
    ["last seen", `${n.last_seen} (${ago(n.last_seen)})`],
    ["claimed tasks", n.claimed_tasks.join(", ")],
    ["repos", n.repos.map((r) => `${r.name} (${r.active_prs} PRs)`).join(", ")],
  ]);
  if (n.agents.length) {
    out.line();
    out.table(
      ["AGENT", "TYPE", "STATUS", "REPO", "TASK"],
      n.agents.map((a) => [a.name, a.type, a.status, a.repo ?? "-", a.task ?? "-"]),
    );
  }
}

/** `nodes [list]`, `nodes show ID` and `nodes forget ID`. */
export function registerNodes(program: Command, run: Runner): void {
  const nodes = program.command("nodes").description("List registered nodes, show one, or forget one");
  pageOptions(
    nodes
      .command("list", { isDefault: true })
      .description("List registered nodes, by id")
      .addOption(new Option("--status <status>", "only nodes with this status").choices(NODE_STATUSES))
      .option("--label <key=value>", "only nodes with this label (repeatable)", collect, []),
  ).action(
    run<ListRaw>(async (ctx, raw) => {
      const client = await ctx.client();
      const labels = parseLabels(raw.label);
      const page = await readPages("nodes", raw, (p) => client.listNodesPage({ status: raw.status, labels, ...p }));
      ctx.out.result(page, (r) => {
        printNodes(ctx.out, r.nodes);
        printMore(ctx.out, r.next_cursor);
      });
    }),
  );
  nodes
    .command("show")
    .description("Show one node: capacity, labels, agents, claims")
    .argument("<node-id>", "the node's id")
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
        const client = await ctx.client();
        ctx.out.result(await client.getNode(id), (n) => printNode(ctx.out, n));
      }),
    );
  nodes
    .command("forget")
    .description("Forget a node now (admin): its claims go back to pending, its undelivered messages are dropped")
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
}
