import { randomUUID } from "node:crypto";
import { DEFAULT_EVENT_MAX_BYTES } from "../core/events.js";
import type { CoordEvent, EventData, NodeRecord, Task } from "../core/types.js";
import { isConnectionDropped, learnOutcome } from "./redis-commit.js";
import { taskFootprint, type RedisKeys } from "./redis-keys.js";
import { unavailable, type ScriptedRedis } from "./redis-reads.js";
import type { ClaimNextOutcome, ClaimNextRequest } from "./types.js";

export interface RedisClaimOptions {
  client: ScriptedRedis;
  keys: RedisKeys;
  retention: number;
  maxEventBytes?: number;
  /** Hands this replica's committed events to its feed (as a commit does). */
  ingest(events: CoordEvent[]): Promise<void>;
  resendAttempts?: number;
  /** Runs after a claim was written, before it is answered (replica wait, as for commits). */
  afterWrite?: () => Promise<void>;
}

/** The placeholders of a claimed task's footprint template, and the task fields they stand for. */
const PLACEHOLDERS = { id: "{{id}}", repo: "{{repo}}", key: "{{key}}", ckey: "{{ckey}}" } as const;

/**
 * The index entries of a claimed task, as a template the script fills in: they come from
 * `taskFootprint`, so which index holds what stays stated once. A JSON array of
 * `[entry JSON, placeholder names it needs...]`: an entry of an optional field (the idempotency
 * key, the concurrency key) is kept only when the task has that field.
 */
function claimedFootprint(k: RedisKeys, leaseIso: string): string {
  const template = {
    id: PLACEHOLDERS.id,
    repo: PLACEHOLDERS.repo,
    status: "claimed",
    lease_expires_at: leaseIso,
    idempotency_key: PLACEHOLDERS.key,
    concurrency_key: PLACEHOLDERS.ckey,
  } as Task;
  const optional = ["key", "ckey"] as const;
  return JSON.stringify(
    taskFootprint(k, template).map((entry) => {
      const json = JSON.stringify(entry);
      return [json, ...optional.filter((name) => json.includes(PLACEHOLDERS[name]))];
    }),
  );
}

/** `Store.claimNext` on Redis: CLAIM_LUA (redis-claim-script.ts), one round trip. */
export function createRedisClaim(options: RedisClaimOptions) {
  const { client, keys: k, retention, ingest } = options;
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_EVENT_MAX_BYTES;
  const resendAttempts = options.resendAttempts ?? 3;

  return async function claimNext(req: ClaimNextRequest, txid: string = randomUUID()): Promise<ClaimNextOutcome> {
    const nowMs = req.now.getTime();
    const leaseIso = new Date(nowMs + req.lease_ms).toISOString();
    const args = [
      k.prefix,
      retention,
      maxEventBytes,
      txid,
      req.registration_id,
      JSON.stringify(req.registration_id),
      req.node_id,
      JSON.stringify(req.node_id),
      nowMs,
      JSON.stringify(req.now.toISOString()),
      JSON.stringify(leaseIso),
      JSON.stringify(req.worker_name),
      JSON.stringify(`${req.worker_name}@${req.node_id}`),
      req.repos ? JSON.stringify(req.repos) : "",
      req.lookahead,
      k.claimedByKey(""),
      claimedFootprint(k, leaseIso),
    ];
    let reply: (string | number)[];
    try {
      reply = await client.mccClaim(...args);
    } catch (err) {
      if (!isConnectionDropped(err)) unavailable(err);
      reply = await learnOutcome(() => client.mccClaim(...args), resendAttempts);
    }
    switch (reply[0]) {
      case "claimed": {
        const { type, data } = JSON.parse(reply[3] as string) as { type: "task.claimed"; data: EventData };
        await options.afterWrite?.();
        await ingest([{ id: Number(reply[2]), type, data }]);
        return { kind: "claimed", task: JSON.parse(reply[1] as string) as Task, event: { type, data } };
      }
      case "node":
        return { kind: "node", node: JSON.parse(reply[1] as string) as NodeRecord };
      case "none":
      case "skipped":
      case "registration":
        return { kind: reply[0] };
      default:
        return { kind: "fallback", reason: String(reply[1] ?? reply[0]) };
    }
  };
}
