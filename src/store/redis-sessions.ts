import type { Redis } from "ioredis";
import type { RedisKeys } from "./redis-keys.js";
import { rc } from "./redis-reads.js";
import type { SessionRecord, SessionStore } from "./types.js";

/**
 * Creates a session within its bounds in one step. KEYS[1] all sessions and KEYS[2] the token's,
 * both sorted sets scored by expiry (every session lives as long, so soonest-expiring is oldest).
 * ARGV: now ms, expiry ms, per-token limit, total limit, id, JSON, session key prefix.
 */
const CREATE_LUA = `
local now, exp = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3]) + 1
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, extra - 1)) do
    redis.call('DEL', ARGV[7] .. old)
    redis.call('ZREM', KEYS[1], old)
    redis.call('ZREM', KEYS[2], old)
  end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', ARGV[7] .. ARGV[5], ARGV[6], 'PX', math.max(1, exp - now))
redis.call('ZADD', KEYS[1], exp, ARGV[5])
redis.call('ZADD', KEYS[2], exp, ARGV[5])
redis.call('PEXPIREAT', KEYS[2], exp)
return 1
`;

/** Ends a session: KEYS[1] the session, KEYS[2] all sessions, ARGV[1] its id, ARGV[2] the per-token key prefix. */
const DELETE_LUA = `
local json = redis.call('GET', KEYS[1])
if not json then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', ARGV[2] .. cjson.decode(json).token_key, ARGV[1])
return 1
`;

/** Ends all sessions of one token: KEYS[1] its index, KEYS[2] all sessions, ARGV[1] the session key prefix. */
const DELETE_TOKEN_LUA = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. id)
  redis.call('ZREM', KEYS[2], id)
end
redis.call('DEL', KEYS[1])
return #ids
`;

/** A literal for a SCAN MATCH pattern (the key prefix is configurable). */
const globLiteral = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");

type SessionRedis = Redis & {
  mccSessionCreate(all: string, ofToken: string, ...args: (string | number)[]): Promise<number>;
  mccSessionDelete(key: string, all: string, id: string, tokenPrefix: string): Promise<number>;
  mccSessionDeleteToken(ofToken: string, all: string, sessionPrefix: string): Promise<number>;
};

/**
 * Dashboard sessions in Redis: a string key each (expiring with the session), indexed per token
 * and in all. A write that changed something is followed by `afterWrite` (the replica WAIT of
 * commits under Sentinel), so a failover neither signs people out nor brings an ended session back.
 */
export function createRedisSessions(redis: Redis, k: RedisKeys, afterWrite?: () => Promise<void>): SessionStore {
  const waited = async <T>(result: T, changed: boolean): Promise<T> => {
    if (changed) await afterWrite?.();
    return result;
  };
  redis.defineCommand("mccSessionCreate", { numberOfKeys: 2, lua: CREATE_LUA });
  redis.defineCommand("mccSessionDelete", { numberOfKeys: 2, lua: DELETE_LUA });
  redis.defineCommand("mccSessionDeleteToken", { numberOfKeys: 2, lua: DELETE_TOKEN_LUA });
  const client = redis as SessionRedis;
  return {
    async createSession(s, limits, nowMs) {
      const args = [nowMs, s.expires_ms, limits.perToken, limits.total, s.id, JSON.stringify(s), k.session("")];
      const created = (await rc(client.mccSessionCreate(k.sessions, k.sessionsOfToken(s.token_key), ...args))) === 1;
      return waited(created, created);
    },
    async getSession(id, nowMs) {
      const json = await rc(client.get(k.session(id)));
      const s = json ? (JSON.parse(json) as SessionRecord) : undefined;
      return s && s.expires_ms > nowMs ? s : undefined;
    },
    async deleteSession(id) {
      const deleted = (await rc(client.mccSessionDelete(k.session(id), k.sessions, id, k.sessionsOfToken("")))) === 1;
      return waited(deleted, deleted);
    },
    async deleteSessionsExcept(tokenKeys) {
      // The per-token indexes name every token that holds a session (they expire with its last one).
      const keep = new Set(tokenKeys.map((key) => k.sessionsOfToken(key)));
      const found = new Set<string>();
      let cursor = "0";
      do {
        const [next, keys] = await rc(client.scan(cursor, "MATCH", `${globLiteral(k.sessionsOfToken(""))}*`, "COUNT", 500));
        for (const key of keys) if (!keep.has(key)) found.add(key);
        cursor = next;
      } while (cursor !== "0");
      let n = 0;
      for (const key of found) n += await rc(client.mccSessionDeleteToken(key, k.sessions, k.session("")));
      return waited(n, n > 0);
    },
  };
}
