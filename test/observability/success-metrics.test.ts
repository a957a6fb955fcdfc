/**
 * The PRD's success measures (issue 12): utilisation, create→claim latency, recovery of orphaned
 * tasks, node offline events, pending work per repo and label set, on /metrics and in /status,
 * with their values asserted after a scripted run on a clock the test moves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClock, okData, type TestClock } from "../helpers/api-fixtures.js";
import { createCoordinator } from "../../src/coordinator/index.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer;
let clock: TestClock;
beforeAll(async () => {
  clock = makeClock(Date.parse("2026-12-01T08:00:00.000Z"));
  server = await startTestServer({ clock: clock.now, claimTimeoutMs: 60_000, offlineThresholdMs: 90_000 });
});
afterAll(() => server.close());

async function scrape(from: TestServer = server): Promise<Map<string, number>> {
  const text = await (await fetch(`${from.url}/metrics`, { headers: { authorization: `Bearer ${TOKENS.read}` } })).text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}
const claim = (id: string, reg: string, worker: string) =>
  server.api("POST", `/tasks/${id}/claim`, { token: TOKENS.node, body: { registration_id: reg, worker_name: worker } });
const beat = (reg: string) => server.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: reg } });
const status = async () => okData(await server.api("GET", "/status", { token: TOKENS.read }));

describe("success metrics after a scripted run", () => {
  it("utilisation, create→claim latency, pending by repo and label set, then orphan recovery and offline events", async () => {
    const a = await registerNode(server, "node-a", { maxWorkers: 5, labels: { pool: "gpu" } });
    const t1 = await createTask(server, { repo: "alpha" });
    const t2 = await createTask(server, { repo: "alpha" });
    const t3 = await createTask(server, { repo: "alpha", labels: { pool: "gpu" } });
    await createTask(server, { repo: "beta" });
    clock.advance(2000);
    okData(await claim(t1.id, a, "w1"));
    clock.advance(1000);
    okData(await claim(t2.id, a, "w2"));

    // Two claims on a 5-worker node: utilisation 2/5; waits of 2 s and 3 s.
    expect((await status()).workers).toEqual({ busy: 2, max: 5, utilisation: 0.4 });
    expect((await status()).claim_latency).toEqual({ window_seconds: 3600, count: 2, p50_ms: 2000, p99_ms: 3000 });
    let m = await scrape();
    expect(m.get('mcc_node_workers_busy{node="node-a"}')).toBe(2);
    expect(m.get('mcc_node_workers_max{node="node-a"}')).toBe(5);
    expect(m.get("mcc_workers_busy")).toBe(2);
    expect(m.get("mcc_workers_max")).toBe(5);
    expect(m.get("mcc_worker_utilisation")).toBe(0.4);
    expect(m.get('mcc_tasks{status="claimed"}')).toBe(2);
    expect(m.get('mcc_tasks{status="pending"}')).toBe(2);
    expect(m.get("mcc_tasks_claimed_ratio")).toBe(0.5);
    expect(m.get("mcc_task_claim_latency_seconds_count")).toBe(2);
    expect(m.get("mcc_task_claim_latency_seconds_sum")).toBe(5);
    expect(m.get('mcc_task_claim_latency_seconds_bucket{le="1"}')).toBe(0);
    expect(m.get('mcc_task_claim_latency_seconds_bucket{le="5"}')).toBe(2);
    expect(m.get('mcc_pending_tasks{repo="alpha"}')).toBe(1);
    expect(m.get('mcc_pending_tasks{repo="beta"}')).toBe(1);
    expect(m.get('mcc_pending_tasks_by_labels{labels="pool=gpu"}')).toBe(1);
    expect(m.get('mcc_pending_tasks_by_labels{labels="none"}')).toBe(1);
    // t3 (alpha's only pending task, the only pool=gpu one) was created 3 s ago.
    expect(clock.now() - Date.parse(t3.created_at)).toBe(3000);
    expect(m.get('mcc_oldest_pending_age_seconds{repo="alpha"}')).toBe(3);
    expect(m.get('mcc_oldest_pending_age_seconds_by_labels{labels="pool=gpu"}')).toBe(3);

    // node-b claims t3, then stops: its lease runs out (orphaned) and it goes offline.
    const b = await registerNode(server, "node-b", { maxWorkers: 3, labels: { pool: "gpu" } });
    okData(await claim(t3.id, b, "w1"));
    clock.advance(61_000);
    okData(await beat(a));
    await server.coordinator.sweep();
    expect(okData(await server.api("GET", `/tasks/${t3.id}`, { token: TOKENS.read })).status).toBe("orphaned");
    clock.advance(30_000);
    okData(await beat(a));
    await server.coordinator.sweep();
    clock.advance(5000);
    okData(await beat(a));
    okData(await claim(t3.id, a, "w3"));

    m = await scrape();
    expect(m.get('mcc_node_offline_events_total{node="node-b"}')).toBe(1);
    expect(m.get("mcc_task_recovery_seconds_count")).toBe(1);
    expect(m.get("mcc_task_recovery_seconds_sum")).toBe(35);
    expect(m.get("mcc_task_claim_latency_seconds_count")).toBe(3);
    // Only online nodes count: node-b is gone from the per-node series and the totals.
    expect(m.has('mcc_node_workers_busy{node="node-b"}')).toBe(false);
    expect(m.get('mcc_node_workers_busy{node="node-a"}')).toBe(3);
    expect((await status()).workers).toEqual({ busy: 3, max: 5, utilisation: 0.6 });
    expect(m.has('mcc_pending_tasks{repo="alpha"}')).toBe(false);
    expect(m.get('mcc_pending_tasks{repo="beta"}')).toBe(1);
  });

  it("names at most 10 label sets, the largest, and sums the rest as other", async () => {
    for (let i = 0; i < 12; i++) await createTask(server, { repo: "gamma", labels: { k: `v${i}` } });
    for (let i = 0; i < 2; i++) await createTask(server, { repo: "gamma", labels: { k: "v0" } });
    const m = await scrape();
    const series = [...m].filter(([name]) => name.startsWith("mcc_pending_tasks_by_labels{"));
    expect(series).toHaveLength(11);
    expect(m.get('mcc_pending_tasks_by_labels{labels="k=v0"}')).toBe(3);
    // 15 claimable tasks in all (beta's one without labels and gamma's 14); ties go by name.
    expect(series.reduce((a, [, v]) => a + v, 0)).toBe(15);
    expect(m.get('mcc_pending_tasks_by_labels{labels="other"}')).toBe(3); // k=v8, k=v9, none
  });

  it("a coordinator started later (a restart) fills the last hour's create→claim waits from the log", async () => {
    const later = createCoordinator({ store: server.store, clock: clock.now });
    try {
      later.start();
      let latency = (await later.status("x")).claim_latency;
      for (let i = 0; i < 200 && latency.count < 3; i++) {
        await new Promise((done) => setTimeout(done, 10));
        latency = (await later.status("x")).claim_latency;
      }
      // The three claims of pending tasks above (t1 after 2 s, t2 after 3 s, t3's first claim after 3 s).
      expect(latency).toEqual({ window_seconds: 3600, count: 3, p50_ms: 3000, p99_ms: 3000 });
      // An hour later they have left the window.
      clock.advance(3_600_000);
      expect((await later.status("x")).claim_latency).toEqual({ window_seconds: 3600, count: 0, p50_ms: null, p99_ms: null });
    } finally {
      await later.stop();
    }
  });
});
