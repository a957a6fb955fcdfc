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

type SessionRedis = Redis & {
  mccSessionCreate(all: string, ofToken: string, ...args: (string | number)[]): Promise<number>;
  mccSessionDelete(key: string, all: string, id: string, tokenPrefix: string): Promise<number>;
};

/** Dashboard sessions in Redis: a string key each (expiring with the session), indexed per token and in all. */
export function createRedisSessions(redis: Redis, k: RedisKeys): SessionStore {
  redis.defineCommand("mccSessionCreate", { numberOfKeys: 2, lua: CREATE_LUA });
  redis.defineCommand("mccSessionDelete", { numberOfKeys: 2, lua: DELETE_LUA });
  const client = redis as SessionRedis;
  return {
    async createSession(s, limits, nowMs) {
      const args = [nowMs, s.expires_ms, limits.perToken, limits.total, s.id, JSON.stringify(s), k.session("")];
      return (await rc(client.mccSessionCreate(k.sessions, k.sessionsOfToken(s.token_key), ...args))) === 1;
    },
    async getSession(id, nowMs) {
      const json = await rc(client.get(k.session(id)));
      const s = json ? (JSON.parse(json) as SessionRecord) : undefined;
      return s && s.expires_ms > nowMs ? s : undefined;
    },
    async deleteSession(id) {
      return (await rc(client.mccSessionDelete(k.session(id), k.sessions, id, k.sessionsOfToken("")))) === 1;
    },
  };
}
