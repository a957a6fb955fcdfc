import { afterEach, describe, expect, it } from "vitest";
import { createCoordinator, type Coordinator } from "../../src/coordinator/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { Store } from "../../src/store/types.js";
import { createWebhookService, signBody, type WebhookConfig, type WebhookService } from "../../src/webhooks/index.js";
import { eventually } from "../store/conformance-harness.js";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.js";

const FAST = { retryBaseMs: 20, retryMaxMs: 80, leaseMs: 2000, pollMs: 200 };

describe("webhook delivery (real HTTP receiver)", () => {
  let store: Store;
  let coord: Coordinator;
  let service: WebhookService | undefined;
  let receiver: Receiver | undefined;
  const cleanup: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await service?.stop();
    await receiver?.close();
    for (const c of cleanup.splice(0)) await c();
    await store?.close();
    service = receiver = undefined;
  });

  async function setup(hook: Partial<WebhookConfig> = {}, tuning = {}) {
    store = createMemoryStore();
    coord = createCoordinator({ store });
    receiver = await startReceiver();
    service = createWebhookService({
      store,
      webhooks: [{ name: "ci", url: receiver.url, format: "json", from: "end", secret: "s3cret", ...hook }],
      tuning: { ...FAST, ...tuning },
    });
    return { receiver, service };
  }

  it("delivers every event in id order, signed with HMAC-SHA256 of the body, with the event headers", async () => {
    const { receiver, service } = await setup();
    service.start();
    await eventually(async () => expect((await service.list())[0]!.lease_owner).toBe(service.replicaId));
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await coord.tasks.create({ repo: "my-repo", description: `t${i}` })).task);
    await eventually(() => expect(receiver.requests).toHaveLength(5));
    const ids = receiver.ids();
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const [i, r] of receiver.requests.entries()) {
      expect(r.headers["x-coord-event"]).toBe("task.created");
      expect(r.headers["x-coord-delivery"]).toBe(String(r.json.id));
      expect(r.headers["x-coord-signature-256"]).toBe(signBody(r.body, "s3cret"));
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.json).toMatchObject({ type: "task.created", data: { task_id: created[i]!.id, repo: "my-repo" } });
    }
    await eventually(async () => expect((await service.list())[0]).toMatchObject({ position: ids[4], lag: 0, delivered: 5, last_status: 200 }));
  });

  it("retries a receiver that answers 500 with growing delays, then delivers, losing nothing", async () => {
    const { receiver, service } = await setup({ events: ["task.created"] });
    receiver.answer((_r, n) => (n <= 3 ? 500 : 200));
    service.start();
    await eventually(async () => expect((await service.list())[0]!.lease_owner).not.toBeNull());
    await coord.tasks.create({ repo: "r", description: "a" });
    await coord.tasks.create({ repo: "r", description: "b" });
    await eventually(() => expect(receiver.requests.length).toBe(5));
    // The first event three times (500, 500, 500) then 200, then the second once.
    const [a, b] = [receiver.requests[0]!.json.id, receiver.requests[4]!.json.id];
    expect(receiver.ids()).toEqual([a, a, a, a, b]);
    const gaps = [1, 2, 3].map((i) => receiver.requests[i]!.at - receiver.requests[i - 1]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    await eventually(async () => expect((await service.list())[0]).toMatchObject({ position: b, delivered: 2, skipped: 0, last_error: null }));
    expect(service.outcomes().get("ci")).toEqual({ delivered: 2, failed: 3, skipped: 0 });
  });

  it("skips an event that fails for longer than the retry window, counts it, and goes on", async () => {
    const { receiver, service } = await setup({}, { retryForMs: 50 });
    receiver.answer((r) => (r.json.data.description === "bad" ? 503 : 200));
    service.start();
    await eventually(async () => expect((await service.list())[0]!.lease_owner).not.toBeNull());
    await coord.tasks.create({ repo: "r", description: "bad" });
    const good = (await coord.tasks.create({ repo: "r", description: "good" })).task;
    await eventually(() => expect(receiver.requests.at(-1)?.json.data.task_id).toBe(good.id));
    // The cursor is written after the receiver's answer, so wait for it rather than read it at once.
    await eventually(async () => expect((await service.list())[0]).toMatchObject({ skipped: 1, delivered: 1 }));
    expect(service.outcomes().get("ci")!.skipped).toBe(1);
  });

  it("moves past events the filter leaves out without sending them (events globs, repo)", async () => {
    const { receiver, service } = await setup({ events: ["task.*"], repo: "mine" });
    service.start();
    await eventually(async () => expect((await service.list())[0]!.lease_owner).not.toBeNull());
    await coord.tasks.create({ repo: "other", description: "x" });
    await coord.nodes.register({ node_id: "n1", hostname: "h", capacity: { max_workers: 1 } });
    const mine = (await coord.tasks.create({ repo: "mine", description: "y" })).task;
    await eventually(() => expect(receiver.requests).toHaveLength(1));
    expect(receiver.requests[0]!.json.data.task_id).toBe(mine.id);
    const { last_id } = await store.eventBounds();
    await eventually(async () => expect((await service.list())[0]).toMatchObject({ position: last_id, lag: 0 }));
  });

  it("starts a new webhook at the end of the log, or at the oldest event with from: oldest", async () => {
    store = createMemoryStore();
    coord = createCoordinator({ store });
    await coord.tasks.create({ repo: "r", description: "before" });
    receiver = await startReceiver();
    const later = await startReceiver();
    cleanup.push(() => later.close());
    service = createWebhookService({
      store,
      webhooks: [
        { name: "end", url: receiver.url, format: "json", from: "end" },
        { name: "all", url: later.url, format: "json", from: "oldest" },
      ],
      tuning: FAST,
    });
    service.start();
    await eventually(async () => expect((await service!.list()).every((s) => s.lease_owner)).toBe(true));
    await coord.tasks.create({ repo: "r", description: "after" });
    await eventually(() => expect(later.requests).toHaveLength(2));
    await eventually(() => expect(receiver!.requests).toHaveLength(1));
    expect(receiver.requests[0]!.json.data.description).toBe("after");
    expect(later.requests.map((r) => r.json.data.description)).toEqual(["before", "after"]);
  });

  it("from: oldest over a trimmed log starts at the oldest retained event, counting nothing as skipped", async () => {
    store = createMemoryStore({ retention: 2 });
    coord = createCoordinator({ store });
    for (let i = 0; i < 5; i++) await coord.tasks.create({ repo: "r", description: `old ${i}` });
    receiver = await startReceiver();
    service = createWebhookService({ store, webhooks: [{ name: "all", url: receiver.url, format: "json", from: "oldest" }], tuning: FAST });
    service.start();
    await eventually(() => expect(receiver!.requests.map((r) => r.json.data.description)).toEqual(["old 3", "old 4"]));
    await eventually(async () => expect((await service!.list())[0]).toMatchObject({ skipped: 0, delivered: 2, lag: 0, last_error: null }));
  });

  it("counts events trimmed from the log before they could be delivered as skipped", async () => {
    store = createMemoryStore({ retention: 2 });
    coord = createCoordinator({ store });
    receiver = await startReceiver();
    let down = true;
    receiver.answer(() => (down ? 500 : 200));
    service = createWebhookService({ store, webhooks: [{ name: "ci", url: receiver.url, format: "json", from: "end" }], tuning: FAST });
    service.start();
    await eventually(async () => expect((await service!.list())[0]!.lease_owner).not.toBeNull());
    await coord.tasks.create({ repo: "r", description: "first" });
    await eventually(() => expect(receiver!.requests.length).toBeGreaterThan(0));
    for (let i = 0; i < 5; i++) await coord.tasks.create({ repo: "r", description: `more ${i}` });
    down = false;
    await eventually(() => expect(receiver!.delivered().length).toBe(3));
    expect(receiver.requests.filter((r) => r.answered === 200).map((r) => r.json.data.description)).toEqual(["first", "more 3", "more 4"]);
    // The skip stays counted; the error it set is cleared by the deliveries after it.
    await eventually(async () => expect((await service!.list())[0]).toMatchObject({ skipped: 3, delivered: 3, lag: 0, last_error: null }));
  });

  it("a hanging receiver times out and is retried; the API does not wait for it", async () => {
    // Waiting for the hung delivery would take the whole 1.5 s delivery timeout; the bound below
    // (1 s) leaves a stalled test process time, where 250 ms against a 300 ms timeout left it 50 ms.
    const { receiver, service } = await setup({}, { timeoutMs: 1500 });
    receiver.answer((_r, n) => (n === 1 ? "hang" : 200));
    service.start();
    await eventually(async () => expect((await service.list())[0]!.lease_owner).not.toBeNull());
    const t0 = Date.now();
    const task = (await coord.tasks.create({ repo: "r", description: "x" })).task;
    await coord.nodes.register({ node_id: "n1", hostname: "h", capacity: { max_workers: 1 } });
    expect(Date.now() - t0).toBeLessThan(1000);
    await eventually(() => expect(receiver.requests.length).toBeGreaterThanOrEqual(2), 10_000);
    expect(receiver.requests[1]!.json.data.task_id).toBe(task.id);
    await eventually(async () => expect((await service.list())[0]!.delivered).toBeGreaterThanOrEqual(1));
  });
});
