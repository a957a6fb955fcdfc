import type { Redis } from "ioredis";
import type { RedisKeys } from "./redis-keys.js";
import { rc } from "./redis-reads.js";
import type { WebhookCursorStore } from "./types.js";
import { cursorFrom, cursorJson } from "./webhook-cursors.js";

/**
 * Compare-and-set of a webhook cursor hash {v, j}. KEYS[1] the cursor; ARGV: expected version
 * ("0" = absent), new JSON ("" deletes). Returns the new version, or -1 when the version differs.
 */
const WEBHOOK_CAS_LUA = `
local have = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if have ~= tonumber(ARGV[1]) then return -1 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) return 0 end
redis.call('HSET', KEYS[1], 'v', have + 1, 'j', ARGV[2])
return have + 1
`;

type CasRedis = Redis & { mccWebhookCas(key: string, expect: number, json: string): Promise<number> };

/** Webhook cursors in Redis: one hash each, written by one Lua script, so racing replicas see one winner. */
export function createRedisWebhookCursors(redis: Redis, k: RedisKeys): WebhookCursorStore {
  redis.defineCommand("mccWebhookCas", { numberOfKeys: 1, lua: WEBHOOK_CAS_LUA });
  const client = redis as CasRedis;
  return {
    async getWebhookCursor(name) {
      const [v, j] = await rc(client.hmget(k.webhook(name), "v", "j"));
      return v && j ? cursorFrom(name, Number(v), j) : undefined;
    },
    async putWebhookCursor(cursor, expectVersion) {
      const version = await rc(client.mccWebhookCas(k.webhook(cursor.name), expectVersion, cursorJson(cursor)));
      return version > 0 ? { ...cursor, version } : undefined;
    },
    async deleteWebhookCursor(name, expectVersion) {
      if (expectVersion === 0) return false;
      return (await rc(client.mccWebhookCas(k.webhook(name), expectVersion, ""))) === 0;
    },
  };
}
