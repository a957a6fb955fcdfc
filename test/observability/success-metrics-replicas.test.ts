/**
 * Success metrics with two coordinator replicas on one Redis (issue 12): the gauges read the
 * shared store, so both replicas report the same; histograms and the offline counter count only
 * what each replica committed, so their sum over replicas counts each claim and event once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../../src/store/redis.js";
import { makeClock, okData } from "../helpers/api-fixtures.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

const skip = !findRedisServer() && !process.env.CI;

async function scrape(from: TestServer): Promise<Map<string, number>> {
  const text = await (await fetch(`${from.url}/metrics`, { headers: { authorization: `Bearer ${TOKENS.read}` } })).text();
  return new Map(text.split("\n").flatMap((line) => {
    const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    return m ? [[m[1]!, Number(m[2])] as [string, number]] : [];
  }));
}
const sum = (maps: Map<string, number>[], key: string) => maps.reduce((a, m) => a + (m.get(key) ?? 0), 0);

describe.skipIf(skip)("success metrics on two replicas sharing Redis", () => {
  let redis: RedisServer;
  let replicas: TestServer[];
  const clock = makeClock(Date.parse("2026-12-01T08:00:00.000Z"));
  beforeAll(async () => {
    redis = await startRedisServer();
    const prefix = `m${process.pid}:`;
    replicas = [];
    for (let i = 0; i < 2; i++) {
      const store = await createRedisStore(redis.url, { keyPrefix: prefix });
      replicas.push(await startTestServer({ store, clock: clock.now, offlineThresholdMs: 90_000 }));
    }
  });
  afterAll(async () => {
    for (const r of replicas ?? []) await r.close();
    await redis?.stop();
  });

  it("agree on gauges and split the counts", async () => {
    const [one, two] = replicas as [TestServer, TestServer];
    const a = await registerNode(one, "node-a", { maxWorkers: 4 });
    await registerNode(two, "node-b", { maxWorkers: 4 });
    const t1 = await createTask(one, { repo: "alpha" });
    const t2 = await createTask(two, { repo: "alpha" });
    await createTask(two, { repo: "alpha" });
    clock.advance(1000);
    for (const [server, task] of [[one, t1], [two, t2]] as const) {
      okData(await server.api("POST", `/tasks/${task.id}/claim`, { token: TOKENS.node, body: { registration_id: a, worker_name: `w-${task.id}` } }));
    }
    // node-b stops; both replicas sweep; only one of them marks it offline.
    clock.advance(91_000);
    okData(await one.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: a } }));
    await Promise.all(replicas.map((r) => r.coordinator.sweep()));

    const scrapes = await Promise.all(replicas.map(scrape));
    for (const m of scrapes) {
      expect(m.get('mcc_node_workers_busy{node="node-a"}')).toBe(2);
      expect(m.get("mcc_workers_max")).toBe(4);
      expect(m.get("mcc_worker_utilisation")).toBe(0.5);
      expect(m.get('mcc_pending_tasks{repo="alpha"}')).toBe(1);
      expect(m.get('mcc_oldest_pending_age_seconds{repo="alpha"}')).toBe(92);
    }
    expect(scrapes.map((m) => m.get("mcc_task_claim_latency_seconds_count"))).toEqual([1, 1]);
    expect(sum(scrapes, 'mcc_node_offline_events_total{node="node-b"}')).toBe(1);

    // status: each replica sees both replicas' claims through the shared event feed.
    for (const r of replicas) {
      let latency: any;
      for (let i = 0; i < 200; i++) {
        latency = okData(await r.api("GET", "/status", { token: TOKENS.read })).claim_latency;
        if (latency.count === 2) break;
        await new Promise((done) => setTimeout(done, 10));
      }
      expect(latency).toEqual({ window_seconds: 3600, count: 2, p50_ms: 1000, p99_ms: 1000 });
    }
  });
});
