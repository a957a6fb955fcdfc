import { setTimeout as sleep } from "node:timers/promises";
import { CoordError, TxConflict } from "../core/errors.js";
import { DEFAULT_EVENT_MAX_BYTES } from "../core/events.js";
import { isBlocked } from "../core/dependencies.js";
import { labelsSatisfied } from "../core/labels.js";
import { NODE_STATUSES, TASK_STATUSES, type CoordEvent, type Labels, type Message, type NodeRecord, type Task } from "../core/types.js";
import { createBufferedTx, createWriteSet } from "./buffered-tx.js";
import { redactUrl } from "./redact-url.js";
import { createRedisClaim } from "./redis-claim.js";
import { createRedisCommit, isConnectionDropped, settleDroppedCommands } from "./redis-commit.js";
import { createErrorReporter, createEventFeed, parseEventBatch } from "./redis-events.js";
import { bucketOf, createRedisKeys } from "./redis-keys.js";
import { upgradeRedisLayout } from "./redis-upgrade.js";
import { createRedisWebhookCursors } from "./redis-webhooks.js";
import { createRedisSessions } from "./redis-sessions.js";
import { createReadSet, createRedisReads, defineScripts, rc } from "./redis-reads.js";
import { createReplicaWait } from "./redis-replica-wait.js";
import { parseRedisUrl } from "./redis-url.js";
import { emptyCounts, type ClaimNextRequest, type PendingBucket, type Store, type StoreOptions, type StoreTx } from "./types.js";

export interface RedisStoreOptions extends StoreOptions {
  /** How many times a transaction is re-run after losing a race before answering UNAVAILABLE. */
  maxAttempts?: number;
  /** How often the event feed checks the log for events pub/sub did not bring (ms). */
  catchUpIntervalMs?: number;
  /**
   * Where problems of the event feed go (the log unreadable, a malformed pub/sub message): they
   * never fail a request; delivery catches up later. Default: stderr, each message once.
   */
  onError?: (err: unknown) => void;
}

const parse = <T>(json: string): T => JSON.parse(json) as T;

/** On close: how long transactions in flight may take to finish, then how long QUIT may take. */
const CLOSE_WAIT_MS = 3000;
const QUIT_WAIT_MS = 1000;

/**
 * A store shared by several coordinator replicas through one Redis. Transactions are
 * optimistic: `fn` runs against a buffered overlay while every read is noted with its version;
 * one Lua script then checks those versions, writes records, indexes and events, and publishes
 * the events, atomically. A lost race re-runs `fn` (bounded, with jittered backoff).
 */
export async function createRedisStore(url: string, options: RedisStoreOptions = {}): Promise<Store> {
  // Loaded here so that memory:// and sqlite:// users never load the driver.
  const { Redis } = await import("ioredis");
  const retention = options.retention ?? 10_000;
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_EVENT_MAX_BYTES;
  const maxAttempts = options.maxAttempts ?? 100;
  // redis://, rediss:// or redis+sentinel:// (redis-url.ts); `?prefix=` before options.keyPrefix.
  const target = parseRedisUrl(url);
  const k = createRedisKeys(target.keyPrefix ?? options.keyPrefix ?? "mcc:");
  const safeUrl = redactUrl(url);
  // A command in flight when the connection drops must not be sent again by the driver: a commit
  // could apply twice. The commit re-sends its own (same transaction id, see redis-commit.ts);
  // other commands in flight fail, and a transaction whose read failed that way runs again.
  // No auto-pipelining: it held each command until setImmediate and built an ioredis Pipeline per
  // flush, and those objects outlived scavenges (twice the bytes surviving each young-generation
  // GC, 22 % more of them; docs/performance.md, "Lifecycle and create→claim latency"), while a
  // flush at our rates carries about one command anyway. Commands are written as they are sent.
  const clientOptions = { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: false, autoResendUnfulfilledCommands: false };
  const client = defineScripts(
    typeof target.connect === "string" ? new Redis(target.connect, clientOptions) : new Redis({ ...target.connect, ...clientOptions }),
  );
  settleDroppedCommands(client);
  // The subscriber only subscribes (and ioredis subscribes again after a reconnect).
  const sub = client.duplicate({ autoResendUnfulfilledCommands: true });
  // Failures reach callers through rejected commands; the 'error' events would only be noise.
  client.on("error", () => {});
  sub.on("error", () => {});
  try {
    await client.connect();
    await sub.connect();
    await sub.subscribe(k.channel);
  } catch (err) {
    client.disconnect();
    sub.disconnect();
    throw new CoordError("UNAVAILABLE", `cannot reach Redis at ${safeUrl}: ${(err as Error).message}`);
  }

  const reads = createRedisReads(client, k);
  const records = async <T>(recordPrefix: string, ...command: string[]) =>
    (await rc(client.mccRecords(recordPrefix, ...command))).map((j) => parse<T>(j));

  /** Records of a time index with a score (ms) before `before`, oldest first. */
  const byScore = <T>(recordPrefix: string, index: string, before: string, limit: number, skip = 0) =>
    records<T>(recordPrefix, "ZRANGEBYSCORE", index, "-inf", `(${Date.parse(before)}`, "LIMIT", String(skip), String(limit));

  async function readEvents(afterId: number, limit: number): Promise<CoordEvent[]> {
    const rows = await rc(client.zrangebyscore(k.events, `(${afterId}`, "+inf", "LIMIT", 0, limit));
    return rows.map((r) => parse<CoordEvent>(r));
  }
  const lastId = async () => Number((await rc(client.get(k.eventCounter))) ?? 0);

  const onError = options.onError ?? createErrorReporter();
  const feed = createEventFeed({ readLog: readEvents, lastId, onError });
  await feed.start();
  sub.on("message", (channel: string, message: string) => {
    const events = parseEventBatch(message);
    if (events) return void feed.ingest(events);
    // Not a batch of ours (a stray PUBLISH?): what was committed is in the log all the same.
    onError(new Error(`ignored a malformed message on channel ${channel}: ${JSON.stringify(message.slice(0, 80))}`));
    void feed.catchUp();
  });
  // ioredis re-subscribes after a reconnect; whatever was published meanwhile comes from the log.
  sub.on("ready", () => void feed.catchUp());
  const catchUpTimer = setInterval(() => void feed.catchUp(), options.catchUpIntervalMs ?? 1000);
  catchUpTimer.unref();

  const afterWrite = createReplicaWait(client, target);
  const commit = createRedisCommit({ client, keys: k, retention, maxEventBytes, afterWrite });
  const claim = createRedisClaim({ client, keys: k, retention, maxEventBytes, afterWrite, ingest: (events) => feed.ingest(events) });

  /** After a lost race: a short, growing, jittered pause, so racing replicas spread out. */
  async function backoff(attempt: number): Promise<void> {
    if (attempt >= maxAttempts) {
      throw new CoordError("UNAVAILABLE", `transaction lost ${attempt} races in a row; try again`, { attempts: attempt });
    }
    await sleep(Math.random() * Math.min(20, 2 ** Math.min(attempt, 5)));
  }

  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  /** A read-only check lost to a dropped connection counts as a conflict (null): run again. */
  function rethrowUnlessDropped(err: unknown): null {
    if (isConnectionDropped(err)) return null;
    throw err;
  }

  async function runTransaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (closed) throw new CoordError("UNAVAILABLE", "store is closed");
      const rs = createReadSet();
      const ws = createWriteSet();
      let result: T;
      try {
        result = await fn(createBufferedTx(createRedisReads(client, k, rs), ws));
      } catch (err) {
        // An answer (e.g. TASK_CLAIMED) must rest on reads that held together, like a commit.
        // A read lost to a dropped connection changed nothing: run `fn` again.
        const retry =
          err instanceof TxConflict ||
          isConnectionDropped(err) ||
          (rs.size >= 2 && (await commit(rs, createWriteSet()).catch(rethrowUnlessDropped)) === null);
        if (!retry) throw err;
        await backoff(attempt);
        continue;
      }
      // A commit with writes never fails as "dropped": it learns its outcome itself.
      const committed = await commit(rs, ws).catch(rethrowUnlessDropped);
      if (committed) {
        await feed.ingest(committed);
        return result;
      }
      await backoff(attempt);
    }
  }

  /** Work in flight is waited for (bounded) by close(). */
  function tracked<T>(run: Promise<T>): Promise<T> {
    inFlight.add(run);
    void run.catch(() => {}).finally(() => inFlight.delete(run));
    return run;
  }

  const store: Store = {
    backend: "redis",
    ...reads,
    transact(fn) {
      return tracked(runTransaction(fn));
    },
    // `txid` (not in the Store interface): a resend of a claim whose answer was lost (tests).
    claimNext(request: ClaimNextRequest, txid?: string) {
      if (closed) return Promise.reject(new CoordError("UNAVAILABLE", "store is closed"));
      return tracked(claim(request, txid));
    },
    async listNodes(query) {
      // Ids first (a set has no order), sorted here; records are read only for the page.
      const ids = (await rc(client.smembers(query.status ? k.nodesByStatus(query.status) : k.nodes)))
        .filter((id) => query.after === undefined || id > query.after)
        .sort();
      const limit = query.limit ?? ids.length;
      const out: NodeRecord[] = [];
      for (let at = 0; at < ids.length && out.length < limit; ) {
        const chunk = ids.slice(at, (at += query.labels ? Math.max(limit, 200) : limit - out.length));
        const jsons = await Promise.all(chunk.map((id) => rc(client.hget(k.node(id), "j"))));
        for (const j of jsons) {
          const n = j ? parse<NodeRecord>(j) : undefined;
          if (n && (!query.status || n.status === query.status) && (!query.labels || labelsSatisfied(query.labels, n.labels))) out.push(n);
        }
      }
      return out.slice(0, limit);
    },
    async listTasks(query) {
      const index = query.status ? k.tasksByStatus(query.status) : query.repo ? k.tasksByRepo(query.repo) : k.tasks;
      const exact = !(query.status && query.repo);
      const chunk = exact ? query.limit + 1 : Math.max(query.limit + 1, 200);
      const out: Task[] = [];
      let cursor = query.cursor;
      while (out.length <= query.limit) {
        const max = cursor === undefined ? "+" : `(${cursor}`;
        const batch = await records<Task>(k.task(""), "ZREVRANGEBYLEX", index, max, "-", "LIMIT", "0", String(chunk));
        for (const t of batch) {
          if ((!query.status || t.status === query.status) && (!query.repo || t.repo === query.repo)) out.push(t);
        }
        if (batch.length < chunk) break;
        cursor = batch[batch.length - 1]!.id;
      }
      const more = out.length > query.limit;
      const page = more ? out.slice(0, query.limit) : out;
      return { tasks: page, next_cursor: more ? page[page.length - 1]!.id : null };
    },
    async countPending(repo) {
      return rc(client.scard(repo === undefined ? k.pending : k.pendingByRepo(repo)));
    },
    async listMessages(query) {
      const index = query.to_node
        ? query.status === "pending"
          ? k.pendingMessages(query.to_node)
          : k.messagesByNode(query.to_node)
        : k.messages;
      const chunk = Math.max(query.limit, 200);
      const out: Message[] = [];
      let cursor = query.after;
      while (out.length < query.limit) {
        const min = cursor === undefined ? "-" : `(${cursor}`;
        const batch = await records<Message>(k.message(""), "ZRANGEBYLEX", index, min, "+", "LIMIT", "0", String(chunk));
        for (const m of batch) {
          if (query.to_node && m.to_node !== query.to_node) continue;
          if (query.to && m.to !== query.to) continue;
          if (query.status && m.status !== query.status) continue;
          out.push(m);
        }
        if (batch.length < chunk) break;
        cursor = batch[batch.length - 1]!.id;
      }
      return out.slice(0, query.limit);
    },
    async countPendingMessages(nodeId) {
      return rc(client.zcard(k.pendingMessages(nodeId)));
    },
    async getRepo(name) {
      const j = await rc(client.hget(k.repo(name), "j"));
      return j ? parse(j) : undefined;
    },
    async staleNodes(cutoff) {
      const ms = Date.parse(cutoff);
      const nodes = await records<NodeRecord>(k.node(""), "ZRANGEBYSCORE", k.online, "-inf", `(${ms}`);
      return nodes.filter((n) => n.status === "online" && Date.parse(n.last_seen) < ms);
    },
    async expiredLeases(now) {
      const ms = Date.parse(now);
      const tasks = await records<Task>(k.task(""), "ZRANGEBYSCORE", k.leases, "-inf", String(ms));
      return tasks.filter((t) => t.status === "claimed" && t.lease_expires_at !== null && Date.parse(t.lease_expires_at) <= ms);
    },
    finishedTasks: (before, limit, skip) => byScore<Task>(k.task(""), k.finished, before, limit, skip),
    ackedMessages: (before, limit, skip) => byScore<Message>(k.message(""), k.acked, before, limit, skip),
    async dueTasks(now, limit) {
      const ms = Date.parse(now);
      const tasks = await records<Task>(k.task(""), "ZRANGEBYSCORE", k.waiting, "-inf", String(ms), "LIMIT", "0", String(limit));
      return tasks.filter((t) => t.status === "waiting" && !isBlocked(t) && !!t.not_before && Date.parse(t.not_before) <= ms);
    },
    idleNodes: (before, limit) => byScore<NodeRecord>(k.node(""), k.idle, before, limit),
    unsettledTasks: (limit) => rc(client.mccUnsettled(k.unsettled, k.dependents(""), limit)),
    async pendingBuckets() {
      // One pipeline: per bucket its size and the first id of each priority rank (score).
      // A bucket's size is its entries and its groups' tasks behind their heads (gtails); its
      // oldest is that of the tasks and group heads in it (a group's later tasks are not read).
      const [members, tails] = await Promise.all([rc(client.smembers(k.buckets)), rc(client.hgetall(k.groupTails))]);
      const pipe = client.pipeline();
      for (const m of members) {
        pipe.zcard(k.bucket(m));
        for (const rank of [0, 1, 2, 3]) pipe.zrangebyscore(k.bucket(m), rank, rank, "LIMIT", 0, 1);
      }
      const replies = (await rc(pipe.exec())) ?? [];
      // Buckets of one (repo, requirements) but different concurrency groups (layout 3) are one entry.
      const out = new Map<string, PendingBucket>();
      members.forEach((m, i) => {
        const [entries, ...heads] = replies.slice(i * 5, i * 5 + 5).map(([err, value]) => (err ? undefined : value));
        const count = typeof entries === "number" ? entries + Number(tails[m] ?? 0) : undefined;
        const ids = heads.flatMap((h) => (Array.isArray(h) ? (h as string[]) : [])).map((id) => id.split("\u0000")[0]!).sort();
        if (typeof count !== "number" || count === 0 || ids.length === 0) return;
        const [repo, labels] = JSON.parse(m) as [string, Labels];
        const id = bucketOf(repo, labels);
        const seen = out.get(id);
        if (!seen) out.set(id, { repo, labels, count, oldest_id: ids[0]! });
        else {
          seen.count += count;
          if (ids[0]! < seen.oldest_id) seen.oldest_id = ids[0]!;
        }
      });
      return [...out.values()];
    },
    async counts() {
      const [nodes, tasks] = await Promise.all([
        Promise.all(NODE_STATUSES.map((s) => rc(client.scard(k.nodesByStatus(s))))),
        Promise.all(TASK_STATUSES.map((s) => rc(client.zcard(k.tasksByStatus(s))))),
      ]);
      const counts = emptyCounts();
      NODE_STATUSES.forEach((s, i) => (counts.nodes[s] = nodes[i]!));
      TASK_STATUSES.forEach((s, i) => (counts.tasks[s] = tasks[i]!));
      return counts;
    },
    readEvents,
    async eventBounds() {
      const res = await rc(client.multi().zrange(k.events, 0, 0, "WITHSCORES").get(k.eventCounter).exec());
      const oldest = (res?.[0]?.[1] as string[] | undefined)?.[1];
      return { oldest_id: oldest ? Number(oldest) : 0, last_id: Number((res?.[1]?.[1] as string | null) ?? 0) };
    },
    onEvents(listener) {
      return feed.add(listener);
    },
    ...createRedisWebhookCursors(client, k),
    ...createRedisSessions(client, k, afterWrite),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(catchUpTimer);
      // Bounded: with Redis gone, transactions and QUIT would wait for a reconnect that may
      // never come. After the waits, disconnect() stops the reconnecting for good.
      await Promise.race([Promise.allSettled([...inFlight]), sleep(CLOSE_WAIT_MS)]);
      await Promise.race([Promise.allSettled([sub.quit(), client.quit()]), sleep(QUIT_WAIT_MS)]);
      sub.disconnect();
      client.disconnect();
    },
  };
  try {
    await upgradeRedisLayout(client, k, store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
