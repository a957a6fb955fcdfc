import { CoordError } from "../core/errors.js";
import { DEFAULT_EVENT_MAX_BYTES } from "../core/events.js";
import { labelSignature, labelsSatisfied } from "../core/labels.js";
import { priorityRank } from "../core/priority.js";
import { isClaimable } from "../core/tasks.js";
import type { CoordEvent, Message, NodeRecord, Task } from "../core/types.js";
import { createBufferedTx, type WriteSet } from "./buffered-tx.js";
import { createGroupTransact } from "./group-transact.js";
import {
  claimOrder,
  createPendingBuckets,
  createShapedQueries,
  createSqliteStatements,
  type PendingHead,
} from "./sqlite-queries.js";
import { openExclusive, type SqliteStoreOptions } from "./sqlite-open.js";
import { createSqliteWebhookCursors } from "./sqlite-webhooks.js";
import { createSqliteSessions } from "./sqlite-sessions.js";
import { createUnsettledSet } from "./sqlite-unsettled.js";
import { createSqliteWriter, nodeRow, taskRow, type NodeRow, type TaskRow } from "./sqlite-writer.js";
export type { SqliteStoreOptions } from "./sqlite-open.js";
import { emptyCounts, type PendingQuery, type Store, type StoreCounts, type StoreTxReads } from "./types.js";

/** How many more committed heads a batch fetches than its first claim asks for. */
const HEADS_AHEAD = 16;

/**
 * The embedded, durable store: one SQLite file in WAL mode, owned by one coordinator process
 * (a second one is refused at open). Transactions run their `fn` one at a time over a buffered
 * overlay (so each reads a stable state); those queued together are committed as one group, in
 * one synchronous SQLite transaction, before any of them is answered (group-transact.ts).
 */
export async function createSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  // Loaded here so that memory:// and redis:// users never load the native module.
  const { default: Sqlite } = await import("better-sqlite3");
  const retention = options.retention ?? 10_000;
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_EVENT_MAX_BYTES;
  const db = openExclusive(Sqlite, path, options);
  let prepared;
  try {
    // Loading the claim order reads the file: if that fails, the file is let go at once.
    const q = createSqliteStatements(db);
    prepared = { q, ...createShapedQueries(db), buckets: createPendingBuckets(q), unsettled: createUnsettledSet(q) };
  } catch (err) {
    db.close();
    throw err;
  }
  const { q, shaped, where, buckets, unsettled } = prepared;

  const parse = <T>(json: unknown): T | undefined => (json === undefined ? undefined : (JSON.parse(json as string) as T));
  const parseAll = <T>(rows: unknown[]): T[] => rows.map((r) => JSON.parse(r as string) as T);

  const reads: StoreTxReads = {
    getNode: async (id) => parse<NodeRecord>(q.node.get(id)),
    getNodeByRegistration: async (reg) => parse<NodeRecord>(q.nodeByReg.get(reg)),
    getTask: async (id) => parse<Task>(q.task.get(id)),
    getTaskByIdempotencyKey: async (key) => parse<Task>(q.taskByKey.get(key)),
    getMessage: async (id) => parse<Message>(q.message.get(id)),
    listPending: async (query) => buckets.heads(query.labels, query.repos, query.limit, query.withRoom, query.claimedCounts).map((h) => parse<Task>(q.task.get(h.id))!),
    countClaimedWithKey: async (key) => q.claimedWithKey.get(key) as number,
    listDependents: async (taskId) => q.dependents.all(taskId) as string[],
    countDependents: async (taskId) => q.countDependents.get(taskId) as number,
  };

  /**
   * The indexed columns of records as committed, for the rows a batch's transactions read: the
   * commit then needs no read of its own to learn what changed (bucket counts, which columns to
   * set). The file changes only at a batch's commit, so this is started afresh with each batch.
   */
  const knownTasks = new Map<string, TaskRow>();
  const knownNodes = new Map<string, NodeRow>();
  const seenTask = (t: Task | undefined) => (t && knownTasks.set(t.id, taskRow(t)), t);
  const seenNode = (n: NodeRecord | undefined) => (n && knownNodes.set(n.id, nodeRow(n)), n);
  const committedReads: StoreTxReads = {
    ...reads,
    getNode: async (id) => seenNode(await reads.getNode(id)),
    getNodeByRegistration: async (reg) => seenNode(await reads.getNodeByRegistration(reg)),
    getTask: async (id) => seenTask(await reads.getTask(id)),
    getTaskByIdempotencyKey: async (key) => seenTask(await reads.getTaskByIdempotencyKey(key)),
  };

  /**
   * The best `limit` committed claimable tasks that a batch did not change. The committed heads
   * do not change during a batch, so each query's are fetched once per batch (a few more than
   * asked, for the claims to come) and fetched again, twice as many, only when the batch's
   * changes used them up.
   */
  function committedHeads(batch: WriteSet, cache: Map<string, { heads: PendingHead[]; want: number }>, query: PendingQuery): PendingHead[] {
    const { labels, repos, limit } = query;
    const key = `${repos?.join(",") ?? "\u0000"}\u0000${labels ? labelSignature(labels) : "\u0000"}`;
    let cached = cache.get(key);
    if (!cached || cached.want < limit) {
      const want = limit + HEADS_AHEAD;
      cache.set(key, (cached = { heads: buckets.heads(labels, repos, want), want }));
    }
    for (;;) {
      const kept = cached.heads.filter((h) => !batch.tasks.has(h.id));
      // Enough, or the index has no more.
      if (kept.length >= limit || cached.heads.length < cached.want) return kept.slice(0, limit);
      cached.want *= 2;
      cached.heads = buckets.heads(labels, repos, cached.want);
    }
  }

  /**
   * What the transactions of a batch read: the committed state under the batch's writes. Its
   * `listPending` is exact: committed tasks the batch changed are dropped, and tasks the batch
   * made claimable are merged in, in claim order.
   */
  function batchReads(batch: WriteSet): StoreTxReads {
    knownTasks.clear();
    knownNodes.clear();
    const overlay = createBufferedTx(committedReads, batch);
    const headsCache = new Map<string, { heads: PendingHead[]; want: number }>();
    return {
      ...overlay,
      async listPending({ labels, repos, limit }) {
        const heads: (PendingHead & { task?: Task })[] = committedHeads(batch, headsCache, { labels, repos, limit });
        for (const t of batch.tasks.values()) {
          if (!isClaimable(t.status) || (repos !== undefined && !repos.includes(t.repo))) continue;
          if (labels && !labelsSatisfied(t.labels, labels)) continue;
          heads.push({ rank: priorityRank(t.priority), id: t.id, task: t });
        }
        return heads
          .sort(claimOrder)
          .slice(0, limit)
          .map((h) => h.task ?? seenTask(parse<Task>(q.task.get(h.id)))!);
      },
    };
  }

  const commit = createSqliteWriter({ db, q, buckets, unsettled, retention, maxEventBytes, knownTasks, knownNodes });

  let closed = false;
  const assertOpen = () => {
    if (closed) throw new CoordError("UNAVAILABLE", "store is closed");
  };
  const { transact, serial, onEvents } = createGroupTransact({ reads, batchReads, commit, check: assertOpen });

  return {
    backend: "sqlite",
    ...reads,
    transact,
    async listNodes(query) {
      const w = where([["status = ?", query.status || undefined]]);
      const sql = `SELECT json FROM nodes${w.sql}${w.sql ? " AND" : " WHERE"} id > ? ORDER BY id LIMIT ?`;
      const limit = query.limit ?? -1; // -1: no limit
      // Labels are matched here, so a page with a label filter is read in chunks until it is full.
      const chunk = limit > 0 && query.labels ? Math.max(limit, 200) : limit;
      const out: NodeRecord[] = [];
      for (let after = query.after ?? ""; ; ) {
        const batch = parseAll<NodeRecord>(shaped(sql).all(...w.args, after, chunk));
        for (const n of batch) if (!query.labels || labelsSatisfied(query.labels, n.labels)) out.push(n);
        if (chunk < 0 || batch.length < chunk || out.length >= limit) break;
        after = batch[batch.length - 1]!.id;
      }
      return limit < 0 ? out : out.slice(0, limit);
    },
    async listTasks(query) {
      const w = where([
        ["status = ?", query.status || undefined],
        ["repo = ?", query.repo || undefined],
        ["id < ?", query.cursor],
      ]);
      const tasks = parseAll<Task>(shaped(`SELECT json FROM tasks${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.args, query.limit + 1));
      const more = tasks.length > query.limit;
      const page = more ? tasks.slice(0, query.limit) : tasks;
      return { tasks: page, next_cursor: more ? page[page.length - 1]!.id : null };
    },
    async pendingBuckets() {
      return buckets.summary();
    },
    async countPending(repo) {
      return buckets.count(repo);
    },
    async listMessages(query) {
      const w = where([
        ["to_node = ?", query.to_node || undefined],
        ["to_addr = ?", query.to || undefined],
        ["status = ?", query.status || undefined],
        ["id > ?", query.after],
      ]);
      return parseAll<Message>(shaped(`SELECT json FROM messages${w.sql} ORDER BY id LIMIT ?`).all(...w.args, query.limit));
    },
    async countPendingMessages(nodeId) {
      return q.countMessages.get(nodeId) as number;
    },
    getRepo: async (name) => parse(q.repo.get(name)),
    async staleNodes(cutoff) {
      return parseAll<NodeRecord>(q.stale.all(Date.parse(cutoff)));
    },
    async expiredLeases(now) {
      return parseAll<Task>(q.expired.all(Date.parse(now)));
    },
    dueTasks: async (now, limit) => parseAll<Task>(q.due.all(Date.parse(now), limit)),
    unsettledTasks: async (limit) => unsettled.list(limit),
    finishedTasks: async (before, limit, skip = 0) => parseAll<Task>(q.finished.all(Date.parse(before), limit, skip)),
    ackedMessages: async (before, limit, skip = 0) => parseAll<Message>(q.acked.all(Date.parse(before), limit, skip)),
    idleNodes: async (before, limit) => parseAll<NodeRecord>(q.idle.all(Date.parse(before), limit)),
    async counts() {
      const counts = emptyCounts();
      for (const r of q.nodeCounts.all() as { status: keyof StoreCounts["nodes"]; n: number }[]) counts.nodes[r.status] = r.n;
      for (const r of q.taskCounts.all() as { status: keyof StoreCounts["tasks"]; n: number }[]) counts.tasks[r.status] = r.n;
      return counts;
    },
    async readEvents(afterId, limit) {
      const rows = q.events.all(afterId, limit) as { id: number; type: CoordEvent["type"]; data: string }[];
      return rows.map((r) => ({ id: r.id, type: r.type, data: JSON.parse(r.data) as CoordEvent["data"] }));
    },
    async eventBounds() {
      return { oldest_id: q.oldestEvent.get() as number, last_id: q.lastEventId.get() as number };
    },
    onEvents,
    ...createSqliteWebhookCursors(db, assertOpen),
    ...createSqliteSessions(db, assertOpen),
    close() {
      // Waits for the running transaction, then refuses new ones.
      return serial(async () => {
        if (closed) return;
        closed = true;
        db.close();
      });
    },
  };
}
