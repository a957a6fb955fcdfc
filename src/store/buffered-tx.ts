import type { Message, NewEvent, NodeRecord, RepoRecord, Task } from "../core/types.js";
import { boundEvent } from "../core/events.js";
import { isClaimable } from "../core/tasks.js";
import type { StoreTx, StoreTxReads } from "./types.js";

/** What a transaction wants to write; applied in one step by the store's commit. */
export interface WriteSet {
  nodes: Map<string, NodeRecord>;
  tasks: Map<string, Task>;
  messages: Map<string, Message>;
  repos: Map<string, RepoRecord>;
  events: NewEvent[];
}

export function createWriteSet(): WriteSet {
  return { nodes: new Map(), tasks: new Map(), messages: new Map(), repos: new Map(), events: [] };
}

/** True when a transaction wrote no record and emitted no event: there is nothing to commit. */
export function isEmptyWriteSet(ws: WriteSet): boolean {
  return ws.nodes.size + ws.tasks.size + ws.messages.size + ws.repos.size + ws.events.length === 0;
}

/**
 * A transaction over `reads` whose writes go to `ws`, and whose reads see its own writes first.
 * Shared by the stores; each store decides how `reads` are isolated and how `ws` is committed.
 */
export function createBufferedTx(reads: StoreTxReads, ws: WriteSet): StoreTx {
  return {
    async getNode(id) {
      return ws.nodes.get(id) ?? reads.getNode(id);
    },
    async getNodeByRegistration(registrationId) {
      for (const n of ws.nodes.values()) if (n.registration_id === registrationId) return n;
      const node = await reads.getNodeByRegistration(registrationId);
      // A buffered write may have replaced this node's registration.
      if (node && ws.nodes.has(node.id)) return undefined;
      return node;
    },
    async getTask(id) {
      return ws.tasks.get(id) ?? reads.getTask(id);
    },
    async getTaskByIdempotencyKey(key) {
      for (const t of ws.tasks.values()) if (t.idempotency_key === key) return t;
      return reads.getTaskByIdempotencyKey(key);
    },
    async getMessage(id) {
      return ws.messages.get(id) ?? reads.getMessage(id);
    },
    async listPending(query) {
      const tasks = await reads.listPending(query);
      // Drop tasks this transaction already took; tasks it made claimable are not added.
      return tasks.filter((t) => {
        const own = ws.tasks.get(t.id);
        return !own || isClaimable(own.status);
      });
    },
    putNode(node) {
      ws.nodes.set(node.id, node);
    },
    putTask(task) {
      ws.tasks.set(task.id, task);
    },
    putMessage(message) {
      ws.messages.set(message.id, message);
    },
    putRepo(repo) {
      ws.repos.set(repo.name, repo);
    },
    emit(event) {
      // Every store's log gets the same bounded event (free text cut to 1 KiB).
      ws.events.push(boundEvent(event));
    },
  };
}
