import { Option, type Command } from "commander";
import { MESSAGE_STATUSES, type Message, type MessageStatus } from "../../core/types.js";
import { ago, status } from "../output/format.js";
import { examples } from "../help.js";
import { addressArg } from "../parse.js";
import type { Runner } from "../runner.js";
import { pageOptions, printMore, readPages, type PageOptions } from "./paging.js";

interface SendOptions {
  from: string;
  to: string;
  body: string;
  repo?: string;
}

interface ListOptions extends PageOptions {
  node?: string;
  to?: string;
  status?: MessageStatus;
}

/** `messages send|list|ack`: inter-agent messages routed through the coordinator. */
export function registerMessages(program: Command, run: Runner): void {
  const messages = program.command("messages").description("Send, list and acknowledge inter-agent messages");

  messages
    .command("send")
    .description("Send a message to agent@node (or a bare agent name with --repo)")
    .addHelpText("after", examples("messages send --from worker-1@machine-b --to supervisor@machine-a --body 'Need the API spec'", "messages send --from worker-1@machine-b --to supervisor --repo web --body Done"))
    .addOption(new Option("--from <agent@node>", "sender").argParser(addressArg(true)).makeOptionMandatory())
    .addOption(new Option("--to <agent[@node]>", "recipient").argParser(addressArg(false)).makeOptionMandatory())
    .requiredOption("--body <text>", "the message (plain text, at most 64 KiB)")
    .option("--repo <repo>", "resolve a bare --to name through this repo's agents")
    .action(
      run<SendOptions>(async (ctx, opts) => {
        const client = await ctx.client();
        const msg = await client.sendMessage({ from: opts.from, to: opts.to, body: opts.body, repo: opts.repo });
        ctx.out.result(msg, (m) => ctx.out.success(`sent ${ctx.out.c.bold(m.id)} to ${m.to}`));
      }),
    );

  pageOptions(
    messages
      .command("list", { isDefault: true })
      .description("List stored messages, oldest first")
      .addHelpText("after", examples("messages --node machine-a --status pending"))
      .option("--node <node-id>", "messages addressed to agents on this node")
      .option("--to <agent@node>", "messages addressed to this agent", addressArg(true))
      .addOption(new Option("--status <status>", "pending (not yet acked) or acked").choices(MESSAGE_STATUSES)),
  ).action(
    run<ListOptions>(async (ctx, opts) => {
      const client = await ctx.client();
      const page = await readPages("messages", opts, (p) => client.listMessagesPage({ node: opts.node, to: opts.to, status: opts.status, ...p }));
      ctx.out.result(page, (r) => {
        ctx.out.table(
          ["ID", "FROM", "TO", "STATUS", "SENT", { title: "BODY", flex: true }],
          r.messages.map((m: Message) => [m.id, m.from, m.to, status(ctx.out.c, m.status), ago(m.created_at), m.body]),
          "no messages",
        );
        printMore(ctx.out, r.next_cursor);
      });
    }),
  );

  messages
    .command("ack")
    .description("Acknowledge a message (idempotent)")
    .addHelpText("after", examples("messages ack msg-00mwtq0b0k0000a1b2c3"))
    .argument("<message-id>")
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, id) => {
        const client = await ctx.client();
        const msg = await client.ackMessage(id);
        ctx.out.result(msg, (m) => ctx.out.success(`acked ${ctx.out.c.bold(m.id)}`));
      }),
    );
}
