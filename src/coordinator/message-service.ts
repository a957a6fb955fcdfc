import { CoordError } from "../core/errors.js";
import { DEFAULT_PAGE, MAX_PAGE, toPage } from "../core/paging.js";
import { checkRecipient, checkSender, type Caller } from "../core/identity.js";
import { newId } from "../core/ids.js";
import { agentsInRepo, parseAddress } from "../core/nodes.js";
import type { Message, MessageStatus, NodeRecord } from "../core/types.js";
import { nodeForRegistration } from "./node-service.js";
import type { CoordinatorContext, SendMessageInput } from "./types.js";

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Inter-agent messages routed through the coordinator and kept until the receiving node acks
 * them. A bare agent name is resolved through the repo's heartbeats; when several nodes report
 * the same name (every node has a `supervisor`), the online node seen most recently wins.
 */
export function createMessageService(ctx: CoordinatorContext) {
  const { store } = ctx;

  async function resolveRecipient(input: SendMessageInput): Promise<{ agent: string; node: string }> {
    const { agent, node } = parseAddress(input.to);
    if (node !== undefined) {
      const target = await store.getNode(node);
      if (!target || target.status === "deregistered") {
        throw new CoordError("NODE_NOT_FOUND", `node ${node} is not registered`, { node_id: node, to: input.to });
      }
      return { agent, node };
    }
    if (!input.repo) {
      throw new CoordError("INVALID_REQUEST", "to: a bare agent name needs repo (or address it as agent@node)", {
        fields: [{ field: "repo", message: "required when to has no @node" }],
      });
    }
    const candidates: NodeRecord[] = [];
    for (const n of await store.listNodes({})) {
      if (n.status === "deregistered") continue;
      if (agentsInRepo(n, input.repo).some((a) => a.name === agent)) candidates.push(n);
    }
    candidates.sort((a, b) => Number(b.status === "online") - Number(a.status === "online") || (a.last_seen < b.last_seen ? 1 : -1));
    const target = candidates[0];
    if (!target) {
      throw new CoordError("AGENT_NOT_FOUND", `no node reports agent ${agent} in repo ${input.repo}`, { agent, repo: input.repo });
    }
    return { agent, node: target.id };
  }

  return {
    /** A node token sends through its registration, as one of that node's agents (`checkSender`). */
    async send(input: SendMessageInput, caller?: Caller): Promise<Message> {
      // DESIGN caps bodies at 64 KiB of text; the schema counts characters, this counts bytes.
      if (Buffer.byteLength(input.body) > MAX_BODY_BYTES) {
        throw new CoordError("INVALID_REQUEST", `body: at most ${MAX_BODY_BYTES} bytes`, {
          fields: [{ field: "body.body", message: `longer than ${MAX_BODY_BYTES} bytes` }],
        });
      }
      if (caller && caller.role !== "admin") {
        const sender = input.registration_id === undefined ? undefined : await nodeForRegistration(store, input.registration_id, caller);
        checkSender(caller, sender, input.from);
      }
      const to = await resolveRecipient(input);
      const ts = ctx.now().toISOString();
      const message: Message = {
        id: newId("msg"),
        from: input.from,
        to: `${to.agent}@${to.node}`,
        to_agent: to.agent,
        to_node: to.node,
        repo: input.repo ?? null,
        body: input.body,
        status: "pending",
        created_at: ts,
        acked_at: null,
      };
      return store.transact(async (tx) => {
        tx.putMessage(message);
        tx.emit({
          type: "message.sent",
          data: { message_id: message.id, from: message.from, to: message.to, node_id: to.node, repo: message.repo, ts },
        });
        return message;
      });
    },

    /** One page of messages, oldest first; `cursor` is the `next_cursor` of the page before. */
    async list(query: { node?: string; to?: string; status?: MessageStatus; limit?: number; cursor?: string }) {
      const limit = Math.min(query.limit ?? DEFAULT_PAGE, MAX_PAGE);
      const records = await store.listMessages({ to_node: query.node, to: query.to, status: query.status, limit: limit + 1, after: query.cursor });
      const page = toPage(records, limit);
      return { messages: page.items, next_cursor: page.next_cursor };
    },

    /**
     * Acknowledges a message; acking twice is fine. With a registration id (which a node token
     * must give), only the node the message is addressed to may ack it (`checkRecipient`).
     */
    ack(id: string, registrationId?: string, caller?: Caller): Promise<Message> {
      return store.transact(async (tx) => {
        const message = await tx.getMessage(id);
        if (!message) throw new CoordError("NOT_FOUND", `message ${id} not found`, { message_id: id });
        const node = registrationId === undefined ? undefined : await nodeForRegistration(tx, registrationId, caller);
        checkRecipient(caller, node, message.to_node, id);
        if (message.status === "acked") return message;
        const ts = ctx.now().toISOString();
        const acked: Message = { ...message, status: "acked", acked_at: ts };
        tx.putMessage(acked);
        tx.emit({
          type: "message.acked",
          data: { message_id: id, from: message.from, to: message.to, node_id: message.to_node, repo: message.repo, ts },
        });
        return acked;
      });
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;
