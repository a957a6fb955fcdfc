import { groupHasRoom, type ConcurrencyGroup } from "../core/concurrency.js";
import { labelsSatisfied } from "../core/labels.js";
import { DEFAULT_EVENT_MAX_BYTES, eventSize } from "../core/events.js";
import { isBlocked, waitingOn } from "../core/dependencies.js";
import { isClaimable, isFinal } from "../core/tasks.js";
import type { CoordEvent, Message, NodeRecord, RepoRecord, Task } from "../core/types.js";
import type { WriteSet } from "./buffered-tx.js";
import { PendingIndex } from "./pending-index.js";
import { createSerialTransact } from "./serial-transact.js";
import { emptyCounts, type Store, type StoreOptions, type StoreTxReads } from "./types.js";
import { createMemoryWebhookCursors } from "./webhook-cursors.js";
import { createMemorySessions } from "./sessions.js";

/** Ids whose time is before `cutoff`, oldest first, at most `limit`. */
function oldest(times: Map<string, number>, cutoff: number, limit: number, skip = 0): string[] {
  const out: [string, number][] = [];
  for (const entry of times) if (entry[1] < cutoff) out.push(entry);
  return out
    .sort((a, b) => a[1] - b[1])
    .slice(skip, skip + limit)
    .map(([id]) => id);
}

/**
 * Everything in this process's memory: for tests and throwaway coordinators. Transactions run
 * one at a time, so each is atomic and isolated; records are never mutated in place.
 */
export function createMemoryStore(options: StoreOptions = {}): Store {
  const retention = options.retention ?? 10_000;
  const maxBytes = options.maxEventBytes ?? DEFAULT_EVENT_MAX_BYTES;
  const nodes = new Map<string, NodeRecord>();
  /** Online nodes' last_seen (ms): the sweep's scan each second compares numbers, not ISO texts. */
  const onlineSeen = new Map<string, number>();
  const byRegistration = new Map<string, string>();
  const tasks = new Map<string, Task>();
  let taskOrder: string[] = []; // ids in creation order (ids sort by time)
  const byIdempotencyKey = new Map<string, string>();
  const pending = new PendingIndex();
  const claimed = new Set<string>();
  /** Claimed tasks by concurrency key (DESIGN §11). */
  const claimedByKey = new Map<string, Set<string>>();
  const unkey = (t: Task | undefined) => {
    const set = t?.concurrency_key ? claimedByKey.get(t.concurrency_key) : undefined;
    if (!set) return;
    set.delete(t!.id);
    if (set.size === 0) claimedByKey.delete(t!.concurrency_key!);
  };
  /** Waiting tasks by their not_before (ms). */
  const waiting = new Map<string, number>();
  /** Dependency id → the waiting tasks it blocks (see `waitingOn`). */
  const dependents = new Map<string, Set<string>>();
  const messages = new Map<string, Message>();
  const pendingByNode = new Map<string, Set<string>>();
  const repos = new Map<string, RepoRecord>();
  // Retention candidates, id → time (ms), in the order they got there (≈ oldest first).
  const finished = new Map<string, number>();
  const acked = new Map<string, number>();
  let events: CoordEvent[] = [];
  /** `eventSize` of each entry of `events`, and the sum over the retained ones. */
  let sizes: number[] = [];
  let bytes = 0;
  /** Index of the oldest retained event in `events`; entries before it are trimmed. */
  let head = 0;
  let lastEventId = 0;

  const reads: StoreTxReads = {
    async getNode(id) {
      return nodes.get(id);
    },
    async getNodeByRegistration(registrationId) {
      const id = byRegistration.get(registrationId);
      return id === undefined ? undefined : nodes.get(id);
    },
    async getTask(id) {
      return tasks.get(id);
    },
    async getTaskByIdempotencyKey(key) {
      const id = byIdempotencyKey.get(key);
      return id === undefined ? undefined : tasks.get(id);
    },
    async getMessage(id) {
      return messages.get(id);
    },
    async listPending(query) {
      const seen = query.claimedCounts ?? {};
      const room = query.withRoom ? (g: ConcurrencyGroup) => groupHasRoom(g, seen[g.key] ?? claimedByKey.get(g.key)?.size ?? 0) : undefined;
      return pending.query(query.labels, query.repos, query.limit, room).map((id) => tasks.get(id)!);
    },
    async countClaimedWithKey(key) {
      return claimedByKey.get(key)?.size ?? 0;
    },
    async countDependents(taskId) {
      return dependents.get(taskId)?.size ?? 0;
    },
    async listDependents(taskId) {
      return [...(dependents.get(taskId) ?? [])];
    },
  };

  function indexDependencies(task: Task | undefined, id: string, add: boolean): void {
    for (const dep of task ? waitingOn(task) : []) {
      let set = dependents.get(dep);
      if (add) {
        if (!set) dependents.set(dep, (set = new Set()));
        set.add(id);
      } else if (set) {
        set.delete(id);
        if (set.size === 0) dependents.delete(dep);
      }
    }
  }

  function applyTask(task: Task): void {
    const before = tasks.get(task.id);
    indexDependencies(before, task.id, false);
    indexDependencies(task, task.id, true);
    if (before) {
      if (isClaimable(before.status)) pending.remove(before);
      if (before.idempotency_key && before.idempotency_key !== task.idempotency_key) byIdempotencyKey.delete(before.idempotency_key);
    } else {
      taskOrder.push(task.id);
    }
    tasks.set(task.id, task);
    if (isClaimable(task.status)) pending.add(task);
    if (task.status === "claimed") claimed.add(task.id);
    else claimed.delete(task.id);
    unkey(before);
    if (task.status === "claimed" && task.concurrency_key) {
      let set = claimedByKey.get(task.concurrency_key);
      if (!set) claimedByKey.set(task.concurrency_key, (set = new Set()));
      set.add(task.id);
    }
    if (task.status === "waiting" && task.not_before && !isBlocked(task)) waiting.set(task.id, Date.parse(task.not_before));
    else waiting.delete(task.id);
    if (task.idempotency_key) byIdempotencyKey.set(task.idempotency_key, task.id);
    if (isFinal(task.status) && task.completed_at) finished.set(task.id, Date.parse(task.completed_at));
    else finished.delete(task.id);
  }

  function removeTask(id: string): void {
    const task = tasks.get(id);
    if (!task) return;
    indexDependencies(task, id, false);
    if (isClaimable(task.status)) pending.remove(task);
    if (task.idempotency_key && byIdempotencyKey.get(task.idempotency_key) === id) byIdempotencyKey.delete(task.idempotency_key);
    claimed.delete(id);
    unkey(task);
    waiting.delete(id);
    finished.delete(id);
    tasks.delete(id);
  }

  function removeMessage(id: string): void {
    const message = messages.get(id);
    if (!message) return;
    pendingByNode.get(message.to_node)?.delete(id);
    if (pendingByNode.get(message.to_node)?.size === 0) pendingByNode.delete(message.to_node);
    acked.delete(id);
    messages.delete(id);
  }

  function removeNode(id: string): void {
    const node = nodes.get(id);
    if (node?.registration_id) byRegistration.delete(node.registration_id);
    nodes.delete(id);
    onlineSeen.delete(id);
  }

  function applyMessage(message: Message): void {
    messages.set(message.id, message);
    if (message.status === "acked" && message.acked_at) acked.set(message.id, Date.parse(message.acked_at));
    else acked.delete(message.id);
    let set = pendingByNode.get(message.to_node);
    if (message.status === "pending") {
      if (!set) pendingByNode.set(message.to_node, (set = new Set()));
      set.add(message.id);
    } else {
      set?.delete(message.id);
    }
  }

  function commit(ws: WriteSet): CoordEvent[] {
    for (const node of ws.nodes.values()) {
      const before = nodes.get(node.id);
      if (before?.registration_id && before.registration_id !== node.registration_id) byRegistration.delete(before.registration_id);
      if (node.registration_id) byRegistration.set(node.registration_id, node.id);
      nodes.set(node.id, node);
      if (node.status === "online") onlineSeen.set(node.id, Date.parse(node.last_seen));
      else onlineSeen.delete(node.id);
    }
    for (const task of ws.tasks.values()) applyTask(task);
    for (const message of ws.messages.values()) applyMessage(message);
    for (const repo of ws.repos.values()) repos.set(repo.name, repo);
    for (const id of ws.deleted.nodes) removeNode(id);
    for (const id of ws.deleted.messages) removeMessage(id);
    if (ws.deleted.tasks.size > 0) {
      for (const id of ws.deleted.tasks) removeTask(id);
      taskOrder = taskOrder.filter((id) => tasks.has(id));
    }
    const committed = ws.events.map((e) => ({ id: ++lastEventId, type: e.type, data: e.data }));
    for (const e of committed) {
      const size = eventSize(e.id, e.type, JSON.stringify(e.data));
      events.push(e);
      sizes.push(size);
      bytes += size;
    }
    // The last `retention` events stay visible, fewer when they hold more than `maxBytes` (the
    // newest always stays); the array itself is compacted only now and then, so appends stay
    // O(1) amortised.
    const keepFrom = Math.max(head, events.length - retention);
    while (head < keepFrom) bytes -= sizes[head++]!;
    while (bytes > maxBytes && head < events.length - 1) bytes -= sizes[head++]!;
    if (head > Math.max(100, events.length - head)) {
      events = events.slice(head);
      sizes = sizes.slice(head);
      head = 0;
    }
    return committed;
  }

  const { transact, onEvents } = createSerialTransact({ reads, commit });

  return {
    backend: "memory",
    ...reads,
    transact,
    async listNodes(query) {
      const out: NodeRecord[] = [];
      for (const n of nodes.values()) {
        if (query.status && n.status !== query.status) continue;
        if (query.labels && !labelsSatisfied(query.labels, n.labels)) continue;
        if (query.after !== undefined && n.id <= query.after) continue;
        out.push(n);
      }
      out.sort((a, b) => (a.id < b.id ? -1 : 1));
      return query.limit === undefined ? out : out.slice(0, query.limit);
    },
    async listTasks(query) {
      const out: Task[] = [];
      let i = taskOrder.length - 1;
      if (query.cursor !== undefined) {
        // Ids sort by creation, so the page starts just below the cursor.
        let lo = 0;
        let hi = taskOrder.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (taskOrder[mid]! < query.cursor) lo = mid + 1;
          else hi = mid;
        }
        i = lo - 1;
      }
      for (; i >= 0 && out.length <= query.limit; i--) {
        const t = tasks.get(taskOrder[i]!)!;
        if (query.status && t.status !== query.status) continue;
        if (query.repo && t.repo !== query.repo) continue;
        out.push(t);
      }
      const more = out.length > query.limit;
      const page = more ? out.slice(0, query.limit) : out;
      return { tasks: page, next_cursor: more ? page[page.length - 1]!.id : null };
    },
    async pendingBuckets() {
      return pending.summary();
    },
    async countPending(repo) {
      return repo === undefined ? pending.count : pending.countRepo(repo);
    },
    async listMessages(query) {
      let source: Iterable<Message>;
      if (query.to_node && query.status === "pending") {
        source = [...(pendingByNode.get(query.to_node) ?? [])].map((id) => messages.get(id)!);
      } else {
        source = messages.values();
      }
      const out: Message[] = [];
      for (const m of source) {
        if (query.to_node && m.to_node !== query.to_node) continue;
        if (query.to && m.to !== query.to) continue;
        if (query.status && m.status !== query.status) continue;
        if (query.after !== undefined && m.id <= query.after) continue;
        out.push(m);
      }
      out.sort((a, b) => (a.id < b.id ? -1 : 1));
      return out.slice(0, query.limit);
    },
    async countPendingMessages(nodeId) {
      return pendingByNode.get(nodeId)?.size ?? 0;
    },
    async getRepo(name) {
      return repos.get(name);
    },
    async staleNodes(cutoff) {
      const limit = Date.parse(cutoff);
      const out: NodeRecord[] = [];
      for (const [id, seen] of onlineSeen) if (seen < limit) out.push(nodes.get(id)!);
      return out;
    },
    async expiredLeases(now) {
      const limit = Date.parse(now);
      const out: Task[] = [];
      for (const id of claimed) {
        const t = tasks.get(id)!;
        if (t.lease_expires_at && Date.parse(t.lease_expires_at) <= limit) out.push(t);
      }
      return out;
    },
    async dueTasks(now, limit) {
      // `oldest` takes times before a cutoff: at or before `now` is before `now + 1`.
      return oldest(waiting, Date.parse(now) + 1, limit).map((id) => tasks.get(id)!);
    },
    async unsettledTasks(limit) {
      return [...dependents.keys()].filter((id) => !tasks.has(id) || isFinal(tasks.get(id)!.status)).slice(0, limit);
    },
    async finishedTasks(before, limit, skip) {
      return oldest(finished, Date.parse(before), limit, skip).map((id) => tasks.get(id)!);
    },
    async ackedMessages(before, limit, skip) {
      return oldest(acked, Date.parse(before), limit, skip).map((id) => messages.get(id)!);
    },
    async idleNodes(before, limit) {
      const cutoff = Date.parse(before);
      const idle = [...nodes.values()].filter((n) => n.status !== "online" && Date.parse(n.last_seen) < cutoff);
      return idle.sort((a, b) => Date.parse(a.last_seen) - Date.parse(b.last_seen)).slice(0, limit);
    },
    async counts() {
      const counts = emptyCounts();
      for (const n of nodes.values()) counts.nodes[n.status]++;
      for (const t of tasks.values()) counts.tasks[t.status]++;
      return counts;
    },
    async readEvents(afterId, limit) {
      const oldest = events[head]?.id ?? lastEventId + 1;
      const start = head + Math.max(0, afterId + 1 - oldest);
      return events.slice(start, start + limit);
    },
    async eventBounds() {
      return { oldest_id: events[head]?.id ?? 0, last_id: lastEventId };
    },
    onEvents,
    ...createMemoryWebhookCursors(),
    ...createMemorySessions(),
    async close() {},
  };
}
