import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { CoordError } from "../core/errors.js";
import { DEFAULT_EVENT_MAX_BYTES } from "../core/events.js";
import type { CoordEvent } from "../core/types.js";
import { isEmptyWriteSet, type WriteSet } from "./buffered-tx.js";
import { ConnectionDropped, isConnectionDropped } from "./faults.js";
import { messageFootprint, nodeFootprint, taskFootprint, type RedisKeys } from "./redis-keys.js";
import { unavailable, type ReadSet, type ScriptedRedis } from "./redis-reads.js";

export { ConnectionDropped, isConnectionDropped };

/**
 * Settles the commands in flight when the connection drops, with ConnectionDropped. With
 * `autoResendUnfulfilledCommands: false`, ioredis 5 would otherwise leave their promises pending
 * forever (redis/ioredis#2193). 'close' is emitted on the next tick after the socket closed and
 * before any reconnect, so `commandQueue` still holds exactly the unanswered commands.
 */
export function settleDroppedCommands(client: Redis): void {
  client.on("close", () => {
    for (let item = client.commandQueue.shift(); item; item = client.commandQueue.shift()) item.command.reject(new ConnectionDropped());
  });
}

/**
 * Sends again a write whose answer the dropped connection took: it carries a transaction id, so
 * the script answers a repeat with the first outcome and applies nothing twice.
 */
export async function learnOutcome<T>(send: () => Promise<T>, resendAttempts: number): Promise<T> {
  for (let i = 0; i < resendAttempts; i++) {
    try {
      return await send();
    } catch (err) {
      if (!isConnectionDropped(err)) break;
    }
  }
  throw new CoordError("UNAVAILABLE", "redis: the connection dropped during a commit and its outcome is unknown; check before retrying", {
    retry_safe: false,
  });
}

export interface RedisCommitOptions {
  client: ScriptedRedis;
  keys: RedisKeys;
  retention: number;
  /** events.max_bytes (default 64 MiB). */
  maxEventBytes?: number;
  /** How many times a commit whose answer was lost is sent again to learn its outcome. */
  resendAttempts?: number;
  /** Runs after every applied commit that wrote, before it is answered (replica wait, redis-replica-wait.ts). */
  afterWrite?: () => Promise<void>;
}

/**
 * The commit of a Redis transaction: one script run that checks the reads, writes records,
 * indexes and events, and publishes the events, atomically.
 *
 * Every commit that writes carries a transaction id; the script records its outcome under
 * `tx:<id>` (5 minutes) and answers a second run of the same id with that outcome, unapplied.
 * When the connection drops before the answer, the same id is sent again: the commit is applied
 * at most once, and the caller learns whether it was, instead of running `fn` again.
 */
export function createRedisCommit(options: RedisCommitOptions) {
  const { client, keys: k, retention } = options;
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_EVENT_MAX_BYTES;
  const resendAttempts = options.resendAttempts ?? 3;

  /**
   * Runs the commit script; null when a read changed since (nothing was written). `txid`: the
   * attempt's id (a fresh one by default; tests pass their own to run one commit twice).
   */
  return async function commit(rs: ReadSet, ws: WriteSet, txid: string = randomUUID()): Promise<CoordEvent[] | null> {
    const writes: string[] = [];
    for (const n of ws.nodes.values()) writes.push(k.node(n.id), JSON.stringify(n), JSON.stringify(nodeFootprint(k, n)));
    for (const t of ws.tasks.values()) writes.push(k.task(t.id), JSON.stringify(t), JSON.stringify(taskFootprint(k, t)));
    for (const m of ws.messages.values()) writes.push(k.message(m.id), JSON.stringify(m), JSON.stringify(messageFootprint(k, m)));
    for (const r of ws.repos.values()) writes.push(k.repo(r.name), JSON.stringify(r), "[]");
    for (const id of ws.deleted.nodes) writes.push(k.node(id), "", "[]");
    for (const id of ws.deleted.tasks) writes.push(k.task(id), "", "[]");
    for (const id of ws.deleted.messages) writes.push(k.message(id), "", "[]");
    const readOnly = isEmptyWriteSet(ws);
    // A single read is consistent by itself: a read-only transaction of one read needs no check.
    if (readOnly && rs.size < 2) return [];
    const conditions = rs.args();
    const events = ws.events.map((e) => JSON.stringify({ type: e.type, data: e.data }));
    // A read-only check changes nothing, so running it twice is harmless: it needs no id.
    const args = [k.prefix, retention, maxEventBytes, readOnly ? "" : txid, conditions.length / 3, writes.length / 3, events.length];
    args.push(...conditions, ...writes, ...events);
    let reply: number[];
    try {
      reply = await client.mccCommit(...args);
    } catch (err) {
      if (readOnly || !isConnectionDropped(err)) unavailable(err);
      reply = await learnOutcome(() => client.mccCommit(...args), resendAttempts);
    }
    const [ok, first] = reply;
    if (ok !== 1) return null;
    if (!readOnly) await options.afterWrite?.();
    return ws.events.map((e, i) => ({ id: first! + i, type: e.type, data: e.data }));
  };
}
