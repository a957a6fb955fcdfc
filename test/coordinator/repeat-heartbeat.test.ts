/**
 * A heartbeat that repeats a node's report soon after the last write is not written again
 * (core/nodes.ts `repeatHeartbeatWindowMs`), and liveness stays right: two coordinators on one
 * real redis-server, heartbeats to one, sweeps on the other, and the node never goes offline.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { repeatHeartbeatWindowMs } from "../../src/core/nodes.js";
import { createRedisStore } from "../../src/store/redis.js";
import { startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { allEvents, getNode, heartbeat, lastEventId, makeClock, okData, type TestClock } from "../helpers/api-fixtures.js";
import { registerNode, startTestServer, type TestServer } from "../helpers/test-server.js";

const TIMING = { heartbeatIntervalMs: 30_000, offlineThresholdMs: 90_000, claimTimeoutMs: 300_000 };
const REPORT = {
  status: "healthy",
  agents: [{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature" }],
  metrics: { cpu_percent: 45.2 },
};

let redis: RedisServer;
let run = 0;
let clock: TestClock;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  clock = makeClock();
  const keyPrefix = `repeat-hb-${++run}:`;
  a = await startTestServer({ ...TIMING, clock: clock.now, store: await createRedisStore(redis.url, { keyPrefix }) });
  b = await startTestServer({ ...TIMING, clock: clock.now, store: await createRedisStore(redis.url, { keyPrefix }) });
});
afterEach(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe("repeated heartbeats", () => {
  it("the window is half the interval with defaults, and stays inside the offline threshold and the claim timeout", () => {
    expect(repeatHeartbeatWindowMs(TIMING)).toBe(15_000);
    expect(repeatHeartbeatWindowMs({ heartbeatIntervalMs: 1000, offlineThresholdMs: 3000, claimTimeoutMs: 300_000 })).toBe(500);
    expect(repeatHeartbeatWindowMs({ heartbeatIntervalMs: 30_000, offlineThresholdMs: 40_000, claimTimeoutMs: 300_000 })).toBe(2500);
    expect(repeatHeartbeatWindowMs({ heartbeatIntervalMs: 30_000, offlineThresholdMs: 90_000, claimTimeoutMs: 20_000 })).toBe(2000);
    expect(repeatHeartbeatWindowMs({ heartbeatIntervalMs: 30_000, offlineThresholdMs: 20_000, claimTimeoutMs: 300_000 })).toBe(0);
  });

  it("the same report within the window leaves last_seen alone; a changed report or one after the window is written", async () => {
    const reg = await registerNode(a, "steady");
    okData(await heartbeat(a, reg, REPORT));
    const written = clock.iso();
    const mark = await lastEventId(a);

    clock.advance(5000);
    expect(okData(await heartbeat(a, reg, REPORT))).toMatchObject({ status: "online", cancelled_task_ids: [] });
    expect((await getNode(b, "steady")).last_seen).toBe(written);
    expect(await allEvents(a, mark)).toEqual([]);

    clock.advance(1000);
    okData(await heartbeat(a, reg, { ...REPORT, status: "degraded" }));
    const node = await getNode(b, "steady");
    expect(node).toMatchObject({ health: "degraded", last_seen: clock.iso() });

    clock.advance(1000);
    okData(await heartbeat(a, reg, { ...REPORT, status: "degraded", agents: [] }));
    expect((await getNode(b, "steady")).agents).toEqual([]);
    expect((await allEvents(a, mark)).map((e) => e.type)).toEqual(["agent.exited"]);

    clock.advance(15_000);
    okData(await heartbeat(a, reg, { ...REPORT, status: "degraded", agents: [] }));
    expect((await getNode(b, "steady")).last_seen).toBe(clock.iso());
  });

  it("a node that heartbeats every second to one replica stays online through the other replica's sweeps", async () => {
    const reg = await registerNode(a, "fast");
    const mark = await lastEventId(a);
    for (let s = 0; s < 3 * 90; s++) {
      clock.advance(1000);
      okData(await heartbeat(a, reg, REPORT));
      await b.coordinator.sweep();
    }
    expect((await getNode(b, "fast")).status).toBe("online");
    expect((await allEvents(b, mark)).filter((e) => e.type === "node.offline")).toEqual([]);
    // It stops: the other replica marks it offline within the threshold plus the window.
    clock.advance(90_000 + 15_000);
    await b.coordinator.sweep();
    expect((await getNode(b, "fast")).status).toBe("offline");
  });
});
