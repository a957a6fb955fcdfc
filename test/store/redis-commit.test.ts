import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CoordEvent } from "../../src/core/types.js";
import { createWriteSet } from "../../src/store/buffered-tx.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createRedisCommit } from "../../src/store/redis-commit.js";
import { createRedisKeys } from "../../src/store/redis-keys.js";
import { createReadSet, defineScripts, type ScriptedRedis } from "../../src/store/redis-reads.js";
import { CLAIM_LUA } from "../../src/store/redis-claim-script.js";
import { COMMIT_LUA } from "../../src/store/redis-scripts.js";
import { createRedisStore } from "../../src/store/redis.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { eventually, makeHarness } from "./conformance-harness.js";
import { startTcpProxy } from "./tcp-proxy.js";

const skip = !findRedisServer() && !process.env.CI;
const COMMIT_SHA = createHash("sha1").update(COMMIT_LUA).digest("hex");
const CLAIM_SHA = createHash("sha1").update(CLAIM_LUA).digest("hex");

describe.skipIf(skip)("Redis store: a commit applies at most once (real redis-server)", () => {
  let server: RedisServer;
  let raw: ScriptedRedis;
  let n = 0;
  const nextPrefix = () => `c${process.pid}-${++n}:`;

  beforeAll(async () => {
    server = await startRedisServer();
    raw = defineScripts(new Redis(server.url));
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  /** A valid new task, made by a throwaway coordinator. */
  async function newTask() {
    return makeHarness(createMemoryStore(), { t: Date.parse("2030-01-01T00:00:00Z") }).createTask();
  }

  it("answers a second run of one transaction id with the first outcome, applying nothing (no read conditions)", async () => {
    const keys = createRedisKeys(nextPrefix());
    const commit = createRedisCommit({ client: raw, keys, retention: 100 });
    const task = await newTask();
    const ws = createWriteSet();
    ws.tasks.set(task.id, task);
    ws.events.push({ type: "task.created", data: { ts: task.created_at, task_id: task.id } });
    const first = await commit(createReadSet(), ws, "tx-1");
    const again = await commit(createReadSet(), ws, "tx-1");
    expect(first).toEqual([{ id: 1, type: "task.created", data: expect.any(Object) }]);
    expect(again).toEqual(first);
    expect(await raw.zcard(keys.events)).toBe(1);
    expect(await raw.get(keys.eventCounter)).toBe("1");
    expect(await raw.hget(keys.task(task.id), "v")).toBe("1");
    // A new id is a new commit.
    expect(await commit(createReadSet(), ws, "tx-2")).toEqual([{ id: 2, type: "task.created", data: expect.any(Object) }]);
  });

  it("answers a second run of a conditional commit with its success, not a conflict", async () => {
    const keys = createRedisKeys(nextPrefix());
    const commit = createRedisCommit({ client: raw, keys, retention: 100 });
    const task = await newTask();
    const rs = createReadSet();
    rs.note("v", keys.task(task.id), "0"); // read: the task does not exist yet
    const ws = createWriteSet();
    ws.tasks.set(task.id, task);
    ws.events.push({ type: "task.created", data: { ts: task.created_at, task_id: task.id } });
    const first = await commit(rs, ws, "tx-c");
    expect(first).not.toBeNull();
    expect(await commit(rs, ws, "tx-c")).toEqual(first);
    expect(await commit(rs, ws, "tx-other")).toBeNull(); // the same reads, a new attempt: a conflict
    expect(await raw.zcard(keys.events)).toBe(1);
  });

  describe("through a connection that loses the commit's answer", () => {
    async function open() {
      const proxy = await startTcpProxy(server.port);
      const store = await createRedisStore(proxy.url, { keyPrefix: nextPrefix(), catchUpIntervalMs: 3_600_000 });
      const seen: CoordEvent[] = [];
      store.onEvents((batch) => seen.push(...batch));
      const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
      await h.createTask(); // loads the scripts on the server
      return { proxy, store, h, seen };
    }

    it("writes a task and its event once, and tells the caller it did", async () => {
      const { proxy, store, h, seen } = await open();
      const lost = proxy.loseNextAnswer(COMMIT_SHA);
      const task = await newTask();
      await store.transact(async (tx) => {
        tx.putTask(task);
        tx.emit({ type: "task.created", data: { ts: task.created_at, task_id: task.id } });
      });
      await lost;
      expect((await store.getTask(task.id))?.id).toBe(task.id);
      const events = await h.allEvents();
      expect(events.filter((e) => e.data.task_id === task.id)).toHaveLength(1);
      expect((await store.eventBounds()).last_id).toBe(2);
      await eventually(() => expect(seen.map((e) => e.id)).toEqual([1, 2]));
      await h.coord.stop();
      await store.close();
      await proxy.close();
    });

    it("answers a claim that won with the claim, not with TASK_CLAIMED", async () => {
      const { proxy, store, h } = await open();
      const reg = await h.register("n1");
      const task = await h.createTask();
      const lost = proxy.loseNextAnswer(COMMIT_SHA);
      const claimed = await h.coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
      await lost;
      expect(claimed).toMatchObject({ id: task.id, status: "claimed", attempts: 1 });
      expect((await h.allEvents()).filter((e) => e.type === "task.claimed")).toHaveLength(1);
      expect((await store.getNode("n1"))?.claimed_tasks).toEqual([task.id]);
      await h.coord.stop();
      await store.close();
      await proxy.close();
    });

    it("answers a claim-next whose answer was lost with the claim, made once (the Lua claim keeps its outcome)", async () => {
      const { proxy, store, h, seen } = await open();
      const reg = await h.register("n1");
      await h.coord.claimNext({ registration_id: reg, worker_name: "warm-up", repos: [] }); // loads the claim script
      const task = (await store.listPending({ limit: 1 }))[0]!; // the one open() made
      const lost = proxy.loseNextAnswer(CLAIM_SHA);
      const claimed = await h.coord.claimNext({ registration_id: reg, worker_name: "w" });
      await lost;
      expect(claimed).toMatchObject({ id: task.id, status: "claimed", attempts: 1, claimed_by: "w@n1" });
      const claims = (await h.allEvents()).filter((e) => e.type === "task.claimed");
      expect(claims).toHaveLength(1);
      expect((await store.getNode("n1"))?.claimed_tasks).toEqual([task.id]);
      await eventually(() => expect(seen.filter((e) => e.type === "task.claimed").map((e) => e.id)).toEqual([claims[0]!.id]));
      await h.coord.stop();
      await store.close();
      await proxy.close();
    });
  });

  it("skips a malformed pub/sub message, reports it, and reads what it missed from the log", async () => {
    const keyPrefix = nextPrefix();
    const errors: string[] = [];
    const store = await createRedisStore(server.url, {
      keyPrefix,
      catchUpIntervalMs: 3_600_000,
      onError: (err) => errors.push(String(err)),
    });
    const keys = createRedisKeys(keyPrefix);
    const seen: number[] = [];
    store.onEvents((batch) => seen.push(...batch.map((e) => e.id)));
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    await h.createTask();
    // An event in the log whose announcement never came, then garbage on the channel.
    const id = await raw.incr(keys.eventCounter);
    await raw.zadd(keys.events, id, JSON.stringify({ id, type: "task.created", data: { ts: "t" } }));
    for (const garbage of ["not json", "null", "42", '[{"id":"x"}]', "[]"]) await raw.publish(keys.channel, garbage);
    await eventually(() => expect(seen).toEqual([1, 2]));
    await h.createTask();
    await eventually(() => expect(seen).toEqual([1, 2, 3]));
    expect(errors.some((e) => e.includes("malformed") && e.includes("not json"))).toBe(true);
    await h.coord.stop();
    await store.close();
  });
});
