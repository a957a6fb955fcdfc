import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../src/core/types.js";
import { createRedisStore } from "../../src/store/redis.js";
import { bucketOf, createRedisKeys, type FootprintEntry } from "../../src/store/redis-keys.js";
import { REDIS_LAYOUT } from "../../src/store/redis-upgrade.js";
import type { Store } from "../../src/store/types.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { eventually, makeHarness, type Harness } from "./conformance-harness.js";

/**
 * A full concurrency key on Redis (issue 15): its tasks cost one SCARD per claim, not one read
 * each, and long polls that cannot gain from an event do not each run the claim script.
 * Counted in Redis's own command statistics and in script runs, so the load of the machine
 * does not matter.
 */

const skip = !findRedisServer() && !process.env.CI;
const KEY = "deploy";

describe.skipIf(skip)("Redis: a full concurrency key (real redis-server)", () => {
  let server: RedisServer;
  let raw: Redis;
  let n = 0;
  const open: { store: Store; h: Harness }[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    for (const { store, h } of open) {
      await h.coord.stop();
      await store.close();
    }
    raw?.disconnect();
    await server?.stop();
  });

  async function harness(keyPrefix = `fk${++n}:`, wrap: (s: Store) => Store = (s) => s) {
    const store = wrap(await createRedisStore(server.url, { keyPrefix }));
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    open.push({ store, h });
    return { store, h, keyPrefix };
  }

  /** Node a holds the key's one slot; `count` more tasks of the key wait, ahead of everything. */
  async function fullKey(h: Harness, count: number): Promise<{ a: string; held: Task }> {
    const a = await h.register("a");
    const held = await h.createTask({ concurrency_key: KEY, priority: "critical" });
    await h.coord.tasks.claim(held.id, { registration_id: a, worker_name: "w" });
    for (let left = count; left > 0; left -= 500) {
      const items = Array.from({ length: Math.min(500, left) }, () => ({ repo: "acme/app", description: "x", priority: "critical" as const, concurrency_key: KEY }));
      await h.coord.tasks.createBatch(items);
    }
    return { a, held };
  }

  /** Calls of each Redis command since the last reset (scripts' own calls included). */
  async function commandCalls(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const m of (await raw.info("commandstats")).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
    return out;
  }

  it("a claim behind 500 tasks of a full key reads the task it takes and counts the key once", async () => {
    const { h } = await harness();
    await fullKey(h, 500);
    const low = await h.createTask({ priority: "low" });
    const b = await h.register("b");
    await raw.config("RESETSTAT");
    expect((await h.coord.claimNext({ registration_id: b, worker_name: "w" }))?.id).toBe(low.id);
    const calls = await commandCalls();
    // The script reads the node and the one task it claims (and that task's footprint); before,
    // it read each of the 500 tasks of the full key (500 HGETs).
    expect(calls.hget ?? 0).toBeLessThanOrEqual(4);
    expect(calls.scard ?? 0).toBe(1);
    expect(calls.zrange ?? 0).toBeLessThanOrEqual(4);
  });

  it("a long poll's try finds nothing for anyone with its labels when only a full key's tasks fit (not 'not for this waiter')", async () => {
    const { h } = await harness();
    await fullKey(h, 50);
    const b = await h.register("b");
    expect(await h.coord.tasks.claimForWaiter({ registration_id: b, worker_name: "w" }, {})).toBeNull();
  });

  it("an event that only adds a task of a full key runs the claim script for one long poll, not for every one", async () => {
    let runs = 0;
    const { h } = await harness(undefined, (s) => ({
      ...s,
      claimNext: async (request) => {
        runs++;
        return s.claimNext!(request);
      },
    }));
    await fullKey(h, 50);
    const WAITERS = 10;
    const ROUNDS = 5;
    const regs = await Promise.all(Array.from({ length: WAITERS }, (_, i) => h.register(`w${i}`)));
    const polls = regs.map((reg) => h.coord.claimNext({ registration_id: reg, worker_name: "w", wait_seconds: 60 }));
    await eventually(() => expect(h.coord.longPolls).toBe(WAITERS));
    const before = runs;
    for (let round = 1; round <= ROUNDS; round++) {
      const seen = runs;
      await h.createTask({ concurrency_key: KEY });
      await eventually(() => expect(runs).toBeGreaterThan(seen));
      // An unkeyed task after it: its pass runs once the full key's pass is over, and one waiter takes it.
      await h.createTask({ priority: "low" });
      await eventually(() => expect(h.coord.longPolls).toBe(WAITERS - round));
    }
    const during = runs - before;
    await h.coord.stop();
    expect((await Promise.all(polls)).filter((t) => t !== null)).toHaveLength(ROUNDS);
    // About two runs a round (the full key's event, the unkeyed task's; a third when the unkeyed
    // task's event comes before a run of the first pass that did not see it yet); before, the
    // full key's event ran the script for every waiter (10 + 9 + 8 + 7 + 6 more).
    expect(during).toBeLessThanOrEqual(3 * ROUNDS + 2);
  });

  it("2,000 claimable tasks of distinct keys (per-tenant keys): a claim reads a few entries and counts one key, not one of each", async () => {
    const { store, h } = await harness();
    const a = await h.register("a", { maxWorkers: 10 });
    for (let b = 0; b < 2; b++) {
      await h.coord.tasks.createBatch(Array.from({ length: 1000 }, (_, i) => ({ repo: "acme/app", description: "x", concurrency_key: `svc-${b}-${i}` })));
    }
    const first = await store.listPending({ limit: 5 });
    await raw.config("RESETSTAT");
    const claimed: string[] = [];
    for (let i = 0; i < 5; i++) claimed.push((await h.coord.claimNext({ registration_id: a, worker_name: `w${i}` }))!.id);
    const calls = await commandCalls();
    // Before: 9,995 ZRANGEs and 9,990 SCARDs (one per key per claim). Now per claim: the
    // bucket's head, the group's, the group's next head, the event log's oldest entry.
    expect(calls.zrange ?? 0).toBeLessThanOrEqual(5 * 6);
    expect(calls.scard ?? 0).toBeLessThanOrEqual(5 * 2);
    expect(claimed).toEqual(first.map((t) => t.id));
    expect(await store.countPending()).toBe(1995);
  });

  it("data of an older layout (keyed tasks in their labels' bucket) keeps to the limits, hides nothing behind 40 tasks of a full key, and is moved into group sets at open (layout 4)", async () => {
    const { store, h, keyPrefix } = await harness();
    const { a, held } = await fullKey(h, 40);
    const low = await h.createTask({ priority: "low" });
    await h.coord.stop();
    await store.close();
    open.pop();

    // What an older build left: every claimable task in the bucket of its repo and labels.
    const k = createRedisKeys(keyPrefix);
    const oldDescriptor = bucketOf("acme/app", {});
    const groupDescriptor = bucketOf("acme/app", {}, { key: KEY, limit: 1 });
    for (const id of await raw.zrange(k.group(groupDescriptor), 0, -1)) {
      const fp = JSON.parse((await raw.hget(k.task(id), "x"))!) as FootprintEntry[];
      const moved = fp.map((e) => (e[0] === "g" ? ["z", k.bucket(oldDescriptor), e[2], e[3], k.buckets, oldDescriptor] : e));
      await raw.hset(k.task(id), "x", JSON.stringify(moved));
      await raw.zrem(k.bucket(oldDescriptor), `${id}\u0000${groupDescriptor}`);
      await raw.zadd(k.bucket(oldDescriptor), Number(fp.find((e) => e[0] === "g")![2]), id);
    }
    await raw.del(k.group(groupDescriptor), k.groupHeads, k.groupTails);
    expect(await raw.zcard(k.bucket(oldDescriptor))).toBe(41);

    // Beside an older replica (which writes such buckets), with the layout key saying this
    // build's so no upgrade runs: each task's key is checked, and the 40 are passed over without
    // counting toward the lookahead of 32 (before: the claim answered null).
    await raw.set(`${keyPrefix}layout`, String(REDIS_LAYOUT));
    const legacy = await harness(keyPrefix);
    const b = await legacy.h.register("b");
    expect((await legacy.h.coord.claimNext({ registration_id: b, worker_name: "w" }))?.id).toBe(low.id);
    expect(await legacy.h.coord.claimNext({ registration_id: b, worker_name: "w2" })).toBeNull();
    // The optimistic transaction's window passes over them alike.
    const { claimNext: _lua, ...withoutLua } = legacy.store;
    const slow = makeHarness(withoutLua, { t: Date.parse("2030-01-01T00:00:00Z") });
    const tail = await slow.createTask({ priority: "low" });
    expect((await slow.coord.claimNext({ registration_id: b, worker_name: "w3" }))?.id).toBe(tail.id);
    await slow.coord.stop();
    await legacy.h.coord.stop();
    await legacy.store.close();
    open.pop();

    // The upgrade moves them: the bucket holds the group's head, the group's set all 40.
    await raw.set(`${keyPrefix}layout`, "2");
    const upgraded = await harness(keyPrefix);
    expect(await raw.get(`${keyPrefix}layout`)).toBe(String(REDIS_LAYOUT));
    expect(await raw.zcard(k.bucket(oldDescriptor))).toBe(1);
    expect(await raw.zcard(k.group(groupDescriptor))).toBe(40);
    expect((await raw.smembers(k.buckets)).sort()).toEqual([oldDescriptor]);
    expect(await upgraded.store.pendingBuckets()).toMatchObject([{ repo: "acme/app", count: 40 }]);
    await upgraded.h.coord.tasks.complete(held.id, { registration_id: a });
    const next = await upgraded.h.coord.claimNext({ registration_id: b, worker_name: "w4" });
    expect(next).toMatchObject({ concurrency_key: KEY });
    expect(await upgraded.h.coord.claimNext({ registration_id: b, worker_name: "w5" })).toBeNull();
    expect(await upgraded.store.countClaimedWithKey(KEY)).toBe(1);
  });
});

