import { expect, it } from "vitest";
import { createCoordinator } from "../../src/coordinator/index.js";
import { PURGE_BATCH } from "../../src/coordinator/retention-sweep.js";
import { DEFAULT_RETENTION } from "../../src/core/retention.js";
import type { Store } from "../../src/store/types.js";
import { expectCode, makeHarness, typesOf, type Harness } from "./conformance-harness.js";

const DAY = 86_400_000;
const TASKS_MS = DEFAULT_RETENTION.tasksMs;
const MESSAGES_MS = DEFAULT_RETENTION.messagesMs;
const FORGET_MS = DEFAULT_RETENTION.forgetAfterMs;

/** DESIGN §10 "Nothing grows without bound": retention purges, with every index kept consistent. */
export function retentionSpecs(h: () => Harness): void {
  it(`pages past the oldest finished tasks it keeps: ${PURGE_BATCH + 50} kept (dependents waiting) do not hold back the purgeable ones behind them`, async () => {
    // A coordinator that never settles dependents, so the ended tasks keep theirs waiting.
    const clock = { t: h().now() };
    const inner = h().store;
    const unsettling: Store = {
      ...inner,
      countDependents: async () => 0,
      unsettledTasks: async () => [],
      // Nor in an end's own write.
      transact: (fn) => inner.transact((tx) => fn({ ...tx, listDependents: async () => [] })),
    };
    const { coord, store, advance } = makeHarness(unsettling, clock);
    const create = (n: number, depends?: string[]) =>
      coord.tasks.createBatch(Array.from({ length: n }, (_, i) => ({ repo: "acme/app", description: `t${i}`, depends_on: depends ? [depends[i]!] : undefined })));
    const { tasks: kept } = await create(PURGE_BATCH + 50);
    await create(kept.length, kept.map((t) => t.id));
    for (const t of kept) await coord.tasks.cancel(t.id, null);
    advance(1);
    const { tasks: behind } = await create(50);
    for (const t of behind) await coord.tasks.cancel(t.id, null);
    advance(TASKS_MS + 1);
    expect((await coord.sweep()).purged_tasks).toBe(behind.length);
    for (const t of behind) expect(await store.getTask(t.id)).toBeUndefined();
    expect((await store.finishedTasks(new Date(clock.t).toISOString(), 1000)).map((t) => t.id).sort()).toEqual(kept.map((t) => t.id).sort());
    await coord.stop();
  });

  it("purges finished tasks after tasks.retention; unfinished ones, their indexes and counts stay right", async () => {
    const { createTask, register, coord, store, advance } = h();
    const reg = await register("n1");
    const done = await createTask({ idempotency_key: "key-done" });
    const failed = await createTask({ max_attempts: 1 });
    const cancelled = await createTask({ repo: "other/repo" });
    const waiting = await createTask({ idempotency_key: "key-waiting" });
    // All three finish at the same moment.
    await coord.tasks.claim(done.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(done.id, { registration_id: reg, pr: "#1" });
    await coord.tasks.claim(failed.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.fail(failed.id, { registration_id: reg, reason: "broken", retry: false });
    await coord.tasks.cancel(cancelled.id, "not needed");

    advance(TASKS_MS - 1);
    await coord.nodes.heartbeat({ registration_id: reg });
    expect((await coord.sweep()).purged_tasks).toBe(0);
    expect(await store.getTask(done.id)).toBeDefined();

    advance(2);
    await coord.nodes.heartbeat({ registration_id: reg });
    expect((await coord.sweep()).purged_tasks).toBe(3);
    for (const id of [done.id, failed.id, cancelled.id]) expect(await store.getTask(id)).toBeUndefined();
    expect((await store.listTasks({ limit: 10 })).tasks.map((t) => t.id)).toEqual([waiting.id]);
    expect((await store.listTasks({ limit: 10, repo: "other/repo" })).tasks).toEqual([]);
    expect((await store.listTasks({ limit: 10, status: "completed" })).tasks).toEqual([]);
    expect((await store.counts()).tasks).toMatchObject({ completed: 0, failed: 0, cancelled: 0, pending: 1 });
    expect(await store.finishedTasks(new Date(h().now() + DAY).toISOString(), 10)).toEqual([]);
    // The pending index is untouched; a purged task's idempotency key is free again.
    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual([waiting.id]);
    expect(await store.countPending()).toBe(1);
    expect(await store.getTaskByIdempotencyKey("key-done")).toBeUndefined();
    expect((await store.getTaskByIdempotencyKey("key-waiting"))?.id).toBe(waiting.id);
    const again = await coord.tasks.create({ repo: "acme/app", description: "do the thing", idempotency_key: "key-done" });
    expect(again.created).toBe(true);
    expect((await coord.sweep()).purged_tasks).toBe(0);
  });

  it("purges more than one batch per sweep, and tasks.retention 0 keeps them", async () => {
    const { createTask, coord, store, advance } = h();
    const count = PURGE_BATCH * 2 + 5;
    for (let i = 0; i < count; i++) await coord.tasks.cancel((await createTask()).id, null);
    advance(TASKS_MS + 1);
    const keeper = createCoordinator({ store, clock: () => h().now(), retention: { tasksMs: 0, messagesMs: 0, forgetAfterMs: 0 } });
    expect(await keeper.sweep()).toMatchObject({ purged_tasks: 0, purged_messages: 0, forgotten: [] });
    await keeper.stop();
    expect((await store.counts()).tasks.cancelled).toBe(count);
    expect((await coord.sweep()).purged_tasks).toBe(count);
    expect((await store.counts()).tasks.cancelled).toBe(0);
    expect((await store.listTasks({ limit: 1000 })).tasks).toEqual([]);
  });

  it("purges acked messages after messages.retention; unacked ones stay for their recipient", async () => {
    const { register, coord, store, advance } = h();
    const reg = await register("n1");
    const acked = await coord.messages.send({ from: "lead@hq", to: "worker@n1", body: "done?" });
    const unread = await coord.messages.send({ from: "lead@hq", to: "worker@n1", body: "still there?" });
    await coord.messages.ack(acked.id, reg);
    advance(MESSAGES_MS + 1);
    await coord.nodes.heartbeat({ registration_id: reg });
    expect((await coord.sweep()).purged_messages).toBe(1);
    expect(await store.getMessage(acked.id)).toBeUndefined();
    expect((await store.listMessages({ to_node: "n1", limit: 10 })).map((m) => m.id)).toEqual([unread.id]);
    expect((await store.listMessages({ to: "worker@n1", limit: 10 })).map((m) => m.id)).toEqual([unread.id]);
    expect(await store.countPendingMessages("n1")).toBe(1);
    expect(await store.ackedMessages(new Date(h().now()).toISOString(), 10)).toEqual([]);
  });

  it("forgets nodes offline or deregistered longer than forget_after: claims released first, node.forgotten once", async () => {
    const { createTask, register, coord, store, advance, allEvents } = h();
    const gone = await register("gone");
    const left = await register("left");
    const alive = await register("alive");
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: gone, worker_name: "w" });
    await coord.messages.send({ from: "lead@hq", to: "worker@gone", body: "never read" });
    await coord.nodes.deregister(left);
    // "gone" stops heartbeating; its lease is renewed by nothing, but a long claim timeout would
    // still hold it: the release must come from forgetting.
    await store.transact(async (tx) => {
      const t = (await tx.getTask(task.id))!;
      tx.putTask({ ...t, lease_expires_at: new Date(h().now() + 30 * DAY).toISOString() });
    });
    advance(FORGET_MS - 1);
    await coord.nodes.heartbeat({ registration_id: alive });
    expect((await coord.sweep()).forgotten).toEqual([]);
    advance(2);
    await coord.nodes.heartbeat({ registration_id: alive });
    const mark = (await store.eventBounds()).last_id;
    expect((await coord.sweep()).forgotten.sort()).toEqual(["gone", "left"]);
    expect(await store.getNode("gone")).toBeUndefined();
    expect(await store.getNode("left")).toBeUndefined();
    expect(await store.getNodeByRegistration(gone)).toBeUndefined();
    expect((await store.listNodes({})).map((n) => n.id)).toEqual(["alive"]);
    expect(await store.idleNodes(new Date(h().now() + DAY).toISOString(), 10)).toEqual([]);
    expect((await store.counts()).nodes).toEqual({ online: 1, offline: 0, deregistered: 0 });
    // Released: pending again, naming no claimant (issue 13: a released task showed its old one).
    expect(await store.getTask(task.id)).toMatchObject({ status: "pending", claimed_node: null, claimed_by: null });
    expect(await store.countPending()).toBe(1);
    expect(await store.listMessages({ to_node: "gone", limit: 10 })).toEqual([]);
    expect(await store.countPendingMessages("gone")).toBe(0);
    const events = (await allEvents()).filter((e) => e.id > mark);
    const forgotten = events.filter((e) => e.type === "node.forgotten");
    expect(forgotten.map((e) => e.data.node_id).sort()).toEqual(["gone", "left"]);
    // The release is announced before the node is forgotten, in the same write.
    const gonePart = events.filter((e) => e.data.node_id === "gone" || e.data.task_id === task.id);
    expect(typesOf(gonePart)).toEqual(["task.released", "node.forgotten"]);
    expect(gonePart[1]!.data).toMatchObject({ released_tasks: [task.id] });
    expect((await coord.sweep()).forgotten).toEqual([]);
    // A forgotten node's registration is gone; registering again starts afresh.
    await expectCode(coord.nodes.heartbeat({ registration_id: gone }), "REGISTRATION_NOT_FOUND");
    await register("gone");
    expect(await store.getNode("gone")).toMatchObject({ status: "online", claimed_tasks: [] });
  });

  it("forgets a node at once on request (DELETE /nodes/{id}), online or not; unknown is NODE_NOT_FOUND", async () => {
    const { createTask, register, coord, store } = h();
    const reg = await register("busy");
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    for (let i = 0; i < 150; i++) await coord.messages.send({ from: "lead@hq", to: "worker@busy", body: `m${i}` });
    expect(await coord.nodes.forget("busy")).toEqual({ node_id: "busy", released_tasks: [task.id] });
    expect(await store.getNode("busy")).toBeUndefined();
    expect(await store.getTask(task.id)).toMatchObject({ status: "pending" });
    expect(await store.countPendingMessages("busy")).toBe(0);
    expect(await store.listMessages({ to_node: "busy", limit: 1000 })).toEqual([]);
    await expectCode(coord.nodes.forget("busy"), "NODE_NOT_FOUND");
    await expectCode(coord.nodes.heartbeat({ registration_id: reg }), "REGISTRATION_NOT_FOUND");
  });

  it("pages nodes and messages by id with a cursor", async () => {
    const { register, coord, store } = h();
    for (const id of ["n3", "n1", "n4", "n2", "n5"]) await register(id, { labels: id === "n2" || id === "n4" ? { pool: "gpu" } : {} });
    expect((await store.listNodes({ limit: 2 })).map((n) => n.id)).toEqual(["n1", "n2"]);
    expect((await store.listNodes({ limit: 2, after: "n2" })).map((n) => n.id)).toEqual(["n3", "n4"]);
    expect((await store.listNodes({ limit: 2, after: "n4" })).map((n) => n.id)).toEqual(["n5"]);
    expect((await store.listNodes({ limit: 1, labels: { pool: "gpu" }, after: "n2" })).map((n) => n.id)).toEqual(["n4"]);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push((await coord.messages.send({ from: "a@b", to: "w@n1", body: `m${i}` })).id);
    expect((await store.listMessages({ to_node: "n1", limit: 2, after: sent[1] })).map((m) => m.id)).toEqual(sent.slice(2, 4));
    expect((await store.listMessages({ limit: 10, after: sent[3] })).map((m) => m.id)).toEqual([sent[4]]);
  });
}
