import type { Message, NewEvent, NodeRecord, RepoRecord, Task } from "../core/types.js";
import { boundEvent } from "../core/events.js";
import { waitingOn } from "../core/dependencies.js";
import { isClaimable } from "../core/tasks.js";
import type { StoreTx, StoreTxReads } from "./types.js";

/** What a transaction wants to write; applied in one step by the store's commit. */
export interface WriteSet {
  nodes: Map<string, NodeRecord>;
  tasks: Map<string, Task>;
  messages: Map<string, Message>;
  repos: Map<string, RepoRecord>;
  /** Ids of records to remove (retention, forgetting a node); an id is never both put and deleted. */
  deleted: { nodes: Set<string>; tasks: Set<string>; messages: Set<string> };
  events: NewEvent[];
  /**
   * Dependency → ids of the tasks in `tasks` waiting on it (`waitingOn`), kept by putRecord and
   * deleteRecord, so `listDependents` of a wide cascade is not a scan of every write per level.
   */
  waitingOn: Map<string, Set<string>>;
}

export function createWriteSet(): WriteSet {
  return {
    nodes: new Map(),
    tasks: new Map(),
    messages: new Map(),
    repos: new Map(),
    deleted: { nodes: new Set(), tasks: new Set(), messages: new Set() },
    events: [],
    waitingOn: new Map(),
  };
}

/** True when a transaction wrote no record and emitted no event: there is nothing to commit. */
export function isEmptyWriteSet(ws: WriteSet): boolean {
  const d = ws.deleted;
  return ws.nodes.size + ws.tasks.size + ws.messages.size + ws.repos.size + d.nodes.size + d.tasks.size + d.messages.size + ws.events.length === 0;
}

type Kind = "nodes" | "tasks" | "messages";

/** Moves a buffered task's entries in `ws.waitingOn` from its previous write to `next`. */
function reindex(ws: WriteSet, id: string, next: Task | undefined): void {
  const prev = ws.tasks.get(id);
  for (const dep of prev ? waitingOn(prev) : []) {
    const set = ws.waitingOn.get(dep);
    set?.delete(id);
    if (set?.size === 0) ws.waitingOn.delete(dep);
  }
  for (const dep of next ? waitingOn(next) : []) {
    let set = ws.waitingOn.get(dep);
    if (!set) ws.waitingOn.set(dep, (set = new Set()));
    set.add(id);
  }
}

/** Records a put: a later put of a deleted record brings it back. */
export function putRecord(ws: WriteSet, kind: Kind, record: NodeRecord | Task | Message): void {
  if (kind === "tasks") reindex(ws, record.id, record as Task);
  ws.deleted[kind].delete(record.id);
  (ws[kind] as Map<string, typeof record>).set(record.id, record);
}

/** Records a delete: a later delete wins over an earlier put. */
export function deleteRecord(ws: WriteSet, kind: Kind, id: string): void {
  if (kind === "tasks") reindex(ws, id, undefined);
  ws[kind].delete(id);
  ws.deleted[kind].add(id);
}

/**
 * A transaction over `reads` whose writes go to `ws`, and whose reads see its own writes first.
 * Shared by the stores; each store decides how `reads` are isolated and how `ws` is committed.
 */
export function createBufferedTx(reads: StoreTxReads, ws: WriteSet): StoreTx {
  return {
    async getNode(id) {
      if (ws.deleted.nodes.has(id)) return undefined;
      return ws.nodes.get(id) ?? reads.getNode(id);
    },
    async getNodeByRegistration(registrationId) {
      for (const n of ws.nodes.values()) if (n.registration_id === registrationId) return n;
      const node = await reads.getNodeByRegistration(registrationId);
      // A buffered write may have replaced this node's registration, or removed the node.
      if (node && (ws.nodes.has(node.id) || ws.deleted.nodes.has(node.id))) return undefined;
      return node;
    },
    async getTask(id) {
      if (ws.deleted.tasks.has(id)) return undefined;
      return ws.tasks.get(id) ?? reads.getTask(id);
    },
    async getTaskByIdempotencyKey(key) {
      for (const t of ws.tasks.values()) if (t.idempotency_key === key) return t;
      const task = await reads.getTaskByIdempotencyKey(key);
      return task && ws.deleted.tasks.has(task.id) ? undefined : task;
    },
    async getMessage(id) {
      if (ws.deleted.messages.has(id)) return undefined;
      return ws.messages.get(id) ?? reads.getMessage(id);
    },
    async listPending(query) {
      const tasks = await reads.listPending(query);
      // Drop tasks this transaction already took (or removed); tasks it made claimable are not added.
      return tasks.filter((t) => {
        if (ws.deleted.tasks.has(t.id)) return false;
        const own = ws.tasks.get(t.id);
        return !own || isClaimable(own.status);
      });
    },
    async countClaimedWithKey(key) {
      let n = await reads.countClaimedWithKey(key);
      const claimedHere = (t: Task | undefined) => t?.status === "claimed" && t.concurrency_key === key;
      // A task keeps its key for life, so only this key's tasks can change the count.
      for (const t of ws.tasks.values()) {
        if (t.concurrency_key === key) n += (claimedHere(t) ? 1 : 0) - (claimedHere(await reads.getTask(t.id)) ? 1 : 0);
      }
      for (const id of ws.deleted.tasks) if (claimedHere(await reads.getTask(id))) n--;
      return n;
    },
    async countDependents(taskId) {
      // Own waiting writes added, settled ones not taken off: an upper bound, as the interface says.
      return (await reads.countDependents(taskId)) + (ws.waitingOn.get(taskId)?.size ?? 0);
    },
    async listDependents(taskId) {
      // The committed index, minus dependents this transaction settled, plus those it made.
      const own = ws.waitingOn.get(taskId);
      const out = (await reads.listDependents(taskId)).filter((id) => !ws.deleted.tasks.has(id) && (!ws.tasks.has(id) || own?.has(id)));
      const seen = new Set(out);
      for (const id of own ?? []) if (!seen.has(id)) out.push(id);
      return out;
    },
    putNode(node) {
      putRecord(ws, "nodes", node);
    },
    putTask(task) {
      putRecord(ws, "tasks", task);
    },
    putMessage(message) {
      putRecord(ws, "messages", message);
    },
    deleteNode(id) {
      deleteRecord(ws, "nodes", id);
    },
    deleteTask(id) {
      deleteRecord(ws, "tasks", id);
    },
    deleteMessage(id) {
      deleteRecord(ws, "messages", id);
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
