import type { Redis } from "ioredis";
import { CoordError, TxConflict, isCoordError } from "../core/errors.js";
import type { Message, NodeRecord, Task } from "../core/types.js";
import { storeFault } from "./faults.js";
import type { RedisKeys } from "./redis-keys.js";
import { CLAIM_LUA } from "./redis-claim-script.js";
import { COMMIT_LUA, PENDING_LUA, RECORDS_LUA, VIA_LUA } from "./redis-scripts.js";
import type { StoreTxReads } from "./types.js";

type Arg = string | number;

/**
 * The unsettled tasks (see RedisKeys.unsettled). ARGV: the set, the dependents hash key prefix,
 * limit. Members whose hash is gone (left by a footprint written before the set existed) are
 * dropped on the way. Returns up to `limit` ids.
 */
export const UNSETTLED_LUA = `
local set, prefix, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  if redis.call('EXISTS', prefix .. id) == 0 then
    redis.call('SREM', set, id)
  elseif #out < limit then
    out[#out + 1] = id
  end
end
return out
`;

/** An ioredis client with the store's scripts defined on it. */
export type ScriptedRedis = Redis & {
  mccCommit(...args: Arg[]): Promise<number[]>;
  mccPending(...args: Arg[]): Promise<(string | null)[]>;
  mccVia(...args: Arg[]): Promise<(string | null)[]>;
  mccRecords(...args: Arg[]): Promise<string[]>;
  mccClaim(...args: Arg[]): Promise<(string | number)[]>;
  mccUnsettled(...args: Arg[]): Promise<string[]>;
};

/** Registers the Lua scripts on a client (once per connection). */
export function defineScripts(client: Redis): ScriptedRedis {
  // ioredis runs these with EVALSHA and falls back to EVAL after a server restart (NOSCRIPT).
  client.defineCommand("mccCommit", { numberOfKeys: 0, lua: COMMIT_LUA });
  client.defineCommand("mccPending", { numberOfKeys: 0, lua: PENDING_LUA });
  client.defineCommand("mccVia", { numberOfKeys: 0, lua: VIA_LUA });
  client.defineCommand("mccRecords", { numberOfKeys: 0, lua: RECORDS_LUA });
  client.defineCommand("mccClaim", { numberOfKeys: 0, lua: CLAIM_LUA });
  client.defineCommand("mccUnsettled", { numberOfKeys: 0, lua: UNSETTLED_LUA });
  return client as ScriptedRedis;
}

/** Redis failures become UNAVAILABLE (503), never a raw driver error (500); see storeFault. */
export function unavailable(err: unknown): never {
  if (isCoordError(err) || err instanceof TxConflict) throw err;
  const failure =
    storeFault(err) ?? new CoordError("UNAVAILABLE", `redis: ${(err as Error)?.message ?? String(err)}`, { retry_safe: false });
  failure.cause ??= err;
  throw failure;
}

/** A Redis call whose failure means the store is unavailable. */
export function rc<T>(p: Promise<T>): Promise<T> {
  return p.catch(unavailable);
}

/**
 * What a transaction has read: the version of each record ("v", "0" = absent), the value of
 * each string index ("k", "" = absent) and the size of each counted set ("n": the claimed tasks
 * of a concurrency key). The commit applies only if all are unchanged. Reading
 * one key twice with different results means another replica wrote in between: a conflict now.
 */
export function createReadSet() {
  const conditions = new Map<string, { kind: "v" | "k" | "n"; value: string }>();
  return {
    note(kind: "v" | "k" | "n", key: string, value: string): void {
      const prev = conditions.get(key);
      if (prev && prev.value !== value) throw new TxConflict();
      conditions.set(key, { kind, value });
    },
    get size(): number {
      return conditions.size;
    },
    /** Flat `kind, key, expected` triples for the commit script. */
    args(): string[] {
      const out: string[] = [];
      for (const [key, c] of conditions) out.push(c.kind, key, c.value);
      return out;
    },
  };
}

export type ReadSet = ReturnType<typeof createReadSet>;

/** Record reads against Redis; with a read set, each read becomes a condition of the commit. */
export function createRedisReads(client: ScriptedRedis, k: RedisKeys, rs?: ReadSet): StoreTxReads {
  async function record<T>(key: string): Promise<T | undefined> {
    const [v, j] = await rc(client.hmget(key, "v", "j"));
    rs?.note("v", key, v ?? "0");
    return j ? (JSON.parse(j) as T) : undefined;
  }

  async function via<T>(indexKey: string, recordPrefix: string): Promise<T | undefined> {
    const [id, v, j] = await rc(client.mccVia(indexKey, recordPrefix));
    rs?.note("k", indexKey, id ?? "");
    if (!id) return undefined;
    rs?.note("v", recordPrefix + id, v ?? "0");
    return j ? (JSON.parse(j) as T) : undefined;
  }

  return {
    getNode: (id) => record<NodeRecord>(k.node(id)),
    async getNodeByRegistration(reg) {
      const node = await via<NodeRecord>(k.registration(reg), k.node(""));
      return node?.registration_id === reg ? node : undefined;
    },
    getTask: (id) => record<Task>(k.task(id)),
    async getTaskByIdempotencyKey(key) {
      const task = await via<Task>(k.idempotency(key), k.task(""));
      return task?.idempotency_key === key ? task : undefined;
    },
    getMessage: (id) => record<Message>(k.message(id)),
    async listPending(query) {
      const labels = query.labels ? JSON.stringify(query.labels) : "";
      const room = query.withRoom ? k.claimedByKey("") : "";
      const given = query.withRoom && query.claimedCounts && Object.keys(query.claimedCounts).length ? JSON.stringify(query.claimedCounts) : "";
      const flat = await rc(client.mccPending(k.prefix, query.repos ? JSON.stringify(query.repos) : "", labels, query.limit, room, given));
      const tasks: Task[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        const json = flat[i + 2];
        rs?.note("v", k.task(flat[i]!), flat[i + 1] ?? "0");
        if (json) tasks.push(JSON.parse(json) as Task);
      }
      return tasks;
    },
    async countClaimedWithKey(key) {
      const set = k.claimedByKey(key);
      const n = await rc(client.scard(set));
      rs?.note("n", set, String(n));
      return n;
    },
    async countDependents(taskId) {
      // No note: not a condition of the commit (the "v" field is not a dependent).
      const n = await rc(client.hlen(k.dependents(taskId)));
      return Math.max(0, n - 1);
    },
    async listDependents(taskId) {
      // One HGETALL: the members and the hash's version together (see the "h" footprint).
      const key = k.dependents(taskId);
      const fields = await rc(client.hgetall(key));
      rs?.note("v", key, fields.v ?? "0");
      return Object.keys(fields).filter((f) => f !== "v");
    },
  };
}
