import { errorText, type AgentContext } from "./context.js";
import { messageRepo, writeMessageFile } from "./message-files.js";

/**
 * Fetches the messages addressed to agents on this node, writes each into multiclaude's
 * message folder, and acks it on the coordinator only once the file is there: a crash in
 * between leaves the message pending, and the next delivery finds the file and just acks.
 * A message whose repo cannot be told stays pending (logged once).
 */
export function createMessageDelivery(ctx: AgentContext) {
  let running: Promise<number> | undefined;
  let again = false;
  const undeliverable = new Set<string>();

  async function once(): Promise<number> {
    const messages = await ctx.client.listMessages({ node: ctx.options.nodeId, status: "pending" });
    let delivered = 0;
    for (const message of messages) {
      const fields = { message_id: message.id, to: message.to, from: message.from };
      const repo = messageRepo(message, ctx.state(), (r) => ctx.repos.toLocal(r));
      if (!repo) {
        if (!undeliverable.has(message.id)) {
          undeliverable.add(message.id);
          ctx.log.log("warn", "message.undeliverable", `message ${message.id} for ${message.to} names no repo and state.json does not tell; it stays pending`, fields);
        }
        continue;
      }
      try {
        const { path } = writeMessageFile(ctx.options.multiclaudeHome, repo, message);
        await ctx.client.ackMessage(message.id);
        delivered++;
        ctx.log.log("info", "message.delivered", `delivered message ${message.id} from ${message.from} to ${message.to_agent} (${path})`, { ...fields, path });
      } catch (err) {
        ctx.log.log("warn", "message.delivery_failed", `could not deliver message ${message.id}: ${errorText(err)}`, fields);
      }
    }
    return delivered;
  }

  /** Delivers what is pending; calls while a delivery runs make it run once more afterwards. */
  return async function deliver(): Promise<void> {
    if (running) {
      again = true;
      await running.catch(() => 0);
      return;
    }
    try {
      do {
        again = false;
        running = once();
        await running;
      } while (again);
    } catch (err) {
      ctx.log.log("warn", "message.fetch_failed", `cannot fetch messages: ${errorText(err)}`);
    } finally {
      running = undefined;
    }
  };
}
