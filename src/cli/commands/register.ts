import { hostname } from "node:os";
import { Option, type Command } from "commander";
import type { RegisterRequest } from "../../client/types.js";
import { NODE_HEALTHS, type NodeHealth } from "../../core/types.js";
import { UserError } from "../errors.js";
import { collect, intArg, parseLabels, SERVER_LIMITS } from "../parse.js";
import { examples } from "../help.js";
import { plural } from "../output/format.js";
import type { Runner } from "../runner.js";

interface RegisterOptions {
  nodeId?: string;
  hostname?: string;
  label: string[];
  maxWorkers?: number;
  currentWorkers?: number;
  quiet: boolean;
}

const workersArg = intArg(SERVER_LIMITS.workers.min, SERVER_LIMITS.workers.max);

/** `register`, `heartbeat`, `deregister`: this machine as a node, from a shell or a CI runner. */
export function registerNodeCommands(program: Command, run: Runner): void {
  program
    .command("register")
    .description("Register this machine as a node (defaults from the coordination config) and save the registration")
    .addHelpText("after", examples("register --node-id machine-b --label pool=gpu --label region=us --max-workers 5", "register -q"))
    .option("--node-id <id>", "this node's id (default coordination.node_id, else the hostname)")
    .option("--hostname <name>", "reported hostname (default the machine's)")
    .option("--label <key=value>", "a label of this node (repeatable; replaces coordination.labels)", collect, [])
    .option("--max-workers <n>", "claims this node may hold at once, 0-1024 (default coordination.max_workers)", workersArg)
    .option("--current-workers <n>", "workers running now, 0-1024", workersArg)
    .option("-q, --quiet", "print only the registration id", false)
    .action(
      run<RegisterOptions>(async (ctx, opts) => {
        const cc = await ctx.clientConfig();
        const flagLabels = parseLabels(opts.label);
        const request: RegisterRequest = {
          node_id: opts.nodeId ?? cc.node_id ?? hostname(),
          hostname: opts.hostname ?? hostname(),
          labels: Object.keys(flagLabels).length ? flagLabels : cc.labels,
          capacity: {
            max_workers: opts.maxWorkers ?? cc.max_workers ?? 1,
            current_workers: opts.currentWorkers ?? 0,
          },
        };
        const client = await ctx.client();
        // The client's onRegistered saves it, so later commands on this machine use it.
        const res = await client.register(request);
        if (opts.quiet && !ctx.out.json) {
          ctx.out.plain(res.registration_id);
          return;
        }
        ctx.out.result({ ...res, node_id: request.node_id, saved_to: ctx.registrations.path }, (r) => {
          ctx.out.success(`registered node ${ctx.out.c.bold(r.node_id)} with ${client.url}`);
          ctx.out.line(`registration id ${r.registration_id} (saved in ${r.saved_to})`);
          ctx.out.line(`send a heartbeat at least every ${r.heartbeat_interval_seconds}s to stay online`);
        });
      }),
    );

  program
    .command("heartbeat")
    .description("Send one heartbeat for this machine's registration (renews the leases of its claims)")
    .addHelpText("after", examples("heartbeat", "heartbeat --status draining"))
    .addOption(new Option("--status <health>", "this node's health").choices(NODE_HEALTHS).default("healthy"))
    .option("--current-workers <n>", "workers running now, 0-1024", workersArg)
    .action(
      run<{ status: NodeHealth; currentWorkers?: number }>(async (ctx, opts) => {
        const client = await ctx.nodeClient();
        const res = await client.heartbeat({
          status: opts.status,
          capacity: opts.currentWorkers !== undefined ? { current_workers: opts.currentWorkers } : undefined,
        });
        ctx.out.result(res, (r) => {
          ctx.out.success(`heartbeat sent (${r.status})`);
          if (r.pending_messages) ctx.out.line(`${plural(r.pending_messages, "message")} waiting: multiclaude-coord messages list`);
          if (r.cancelled_task_ids.length) ctx.out.line(`cancelled: ${r.cancelled_task_ids.join(", ")}`);
        });
      }),
    );

  program
    .command("deregister")
    .description("Leave the coordinator; this node's claims go back to pending")
    .addHelpText("after", examples("deregister"))
    .action(
      run<Record<string, never>>(async (ctx) => {
        const client = await ctx.nodeClient();
        const url = client.url;
        const data = await client.deregister().catch((err: unknown) => {
          if ((err as { code?: string }).code === "REGISTRATION_NOT_FOUND") throw new UserError("the coordinator no longer knows this registration", 3);
          throw err;
        });
        ctx.registrations.remove(url);
        ctx.out.result(data ?? {}, () => ctx.out.success(`deregistered from ${url}`));
      }),
    );
}
