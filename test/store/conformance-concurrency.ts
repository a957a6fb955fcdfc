import { expect, it } from "vitest";
import type { Task } from "../../src/core/types.js";
import { CLAIM_TIMEOUT_MS, eventually, expectCode, typesOf, type Harness } from "./conformance-harness.js";

const KEY = "db-migrations";

/** DESIGN §11 concurrency keys on every store: the claimed count per key, kept and read in a transaction. */
export function concurrencySpecs(h: () => Harness): void {
  it("records the key and limit (default 1), announces the key, and refuses a limit without a key", async () => {
    const { coord, store, createTask } = h();
    const t = await createTask({ concurrency_key: KEY });
    expect(t).toMatchObject({ concurrency_key: KEY, concurrency_limit: 1, status: "pending" });
    expect(await store.getTask(t.id)).toEqual(t);
    expect(await createTask()).toMatchObject({ concurrency_key: null, concurrency_limit: null });
    expect((await createTask({ concurrency_key: "k2", concurrency_limit: 3 })).concurrency_limit).toBe(3);
    const [created] = (await h().allEvents()).filter((e) => e.data.task_id === t.id);
    expect(created!.data).toMatchObject({ concurrency_key: KEY, concurrency_limit: 1 });
    const err = await expectCode(coord.tasks.create({ repo: "r", description: "d", concurrency_limit: 2 }), "INVALID_REQUEST");
    expect(err.details).toMatchObject({ fields: [{ field: "body.concurrency_limit" }] });
    await expectCode(coord.tasks.create({ repo: "r", description: "d", concurrency_key: "k", concurrency_limit: 0 }), "INVALID_REQUEST");
  });

  it("claims at most the limit of one key: claim-next skips a full key for the next fitting task, a claim by id gets CONCURRENCY_LIMIT", async () => {
    const { coord, store, register, createTask } = h();
    const a = await register("a");
    const b = await register("b");
    const k1 = await createTask({ concurrency_key: KEY, priority: "high" });
    const k2 = await createTask({ concurrency_key: KEY, priority: "high" });
    const other = await createTask({ priority: "low" });
    expect((await coord.claimNext({ registration_id: a, worker_name: "w1" }))?.id).toBe(k1.id);
    expect(await store.countClaimedWithKey(KEY)).toBe(1);
    // k2 is the best task left, but its key is full: b gets the next one instead.
    expect((await coord.claimNext({ registration_id: b, worker_name: "w1" }))?.id).toBe(other.id);
    expect(await coord.claimNext({ registration_id: b, worker_name: "w2" })).toBeNull();
    const err = await expectCode(coord.tasks.claim(k2.id, { registration_id: b, worker_name: "w2" }), "CONCURRENCY_LIMIT");
    expect(err.details).toMatchObject({ task_id: k2.id, concurrency_key: KEY, concurrency_limit: 1, claimed: 1 });
    expect((await store.getTask(k2.id))!.status).toBe("pending");
    // Another key, or no key, is not held back.
    const free = await createTask({ concurrency_key: "other-key" });
    expect((await coord.tasks.claim(free.id, { registration_id: b, worker_name: "w3" })).status).toBe("claimed");

    await coord.tasks.complete(k1.id, { registration_id: a, pr: "#1" });
    expect(await store.countClaimedWithKey(KEY)).toBe(0);
    expect((await coord.claimNext({ registration_id: b, worker_name: "w4" }))?.id).toBe(k2.id);
    expect(await store.countClaimedWithKey(KEY)).toBe(1);
    expect(await store.countClaimedWithKey("nobody")).toBe(0);
  });

  it("claim-next looks past many tasks of a full key (more than the cooldown lookahead) for one it may take", async () => {
    const { coord, register, createTask } = h();
    const a = await register("a");
    const b = await register("b");
    for (let i = 0; i < 40; i++) await createTask({ concurrency_key: KEY, priority: "critical" });
    const low = await createTask({ priority: "low" });
    expect((await coord.claimNext({ registration_id: a, worker_name: "w" }))?.concurrency_key).toBe(KEY);
    expect((await coord.claimNext({ registration_id: b, worker_name: "w" }))?.id).toBe(low.id);
    expect(await coord.claimNext({ registration_id: b, worker_name: "w2" })).toBeNull();
  });

  it("a full key with more tasks than any lookahead does not hide the tasks behind it, nor does it hold back a key with room", async () => {
    const { coord, store, register, createTask } = h();
    const a = await register("a");
    const b = await register("b", { maxWorkers: 20 });
    const held = await createTask({ concurrency_key: KEY, priority: "critical" });
    await coord.tasks.claim(held.id, { registration_id: a, worker_name: "w" });
    // 1,100 tasks of the full key ahead of everything else (more than the old 1,024 lookahead).
    for (let i = 0; i < 2; i++) await coord.tasks.createBatch(Array.from({ length: 550 }, () => ({ repo: "acme/app", description: "x", priority: "critical" as const, concurrency_key: KEY })));
    // Under the same key a task asking for a higher limit still has room (each task its own limit).
    const roomier = await createTask({ concurrency_key: KEY, concurrency_limit: 2, priority: "high" });
    const low = await createTask({ priority: "low" });
    expect((await coord.claimNext({ registration_id: b, worker_name: "w1" }))?.id).toBe(roomier.id);
    // The pending list leaves a full key out only when asked to (as a claim does).
    expect((await store.listPending({ limit: 2, withRoom: true })).map((t) => t.id)).toEqual([low.id]);
    expect((await store.listPending({ limit: 2 })).every((t) => t.concurrency_key === KEY && t.concurrency_limit === 1)).toBe(true);
    expect((await coord.claimNext({ registration_id: b, worker_name: "w2" }))?.id).toBe(low.id);
    expect(await coord.claimNext({ registration_id: b, worker_name: "w3" })).toBeNull();
    // The key frees up: its best task is next, and the key is full again after it.
    await coord.tasks.complete(held.id, { registration_id: a });
    await coord.tasks.complete(roomier.id, { registration_id: b });
    const next = await coord.claimNext({ registration_id: b, worker_name: "w4" });
    expect(next).toMatchObject({ concurrency_key: KEY, concurrency_limit: 1 });
    expect(await coord.claimNext({ registration_id: b, worker_name: "w5" })).toBeNull();
    expect(await store.countPending()).toBe(1_099);
    expect(await store.pendingBuckets()).toEqual([{ repo: "acme/app", labels: {}, count: 1_099, oldest_id: expect.any(String) }]);
  }, 60_000);

  it("two claims sent together: one takes the key's first task, the other the task behind 40 tasks of the key it filled", async () => {
    // On SQLite both go in one batch: the second's window must judge the key by the batch's
    // claims, not the committed count (before: it got null with a task claimable).
    const { coord, register, createTask } = h();
    const a = await register("a");
    const b = await register("b");
    for (let i = 0; i < 40; i++) await createTask({ concurrency_key: KEY, priority: "critical" });
    const low = await createTask({ priority: "low" });
    const [ca, cb] = await Promise.all([coord.claimNext({ registration_id: a, worker_name: "w" }), coord.claimNext({ registration_id: b, worker_name: "w" })]);
    expect([ca?.concurrency_key ?? ca?.id, cb?.concurrency_key ?? cb?.id].sort()).toEqual([KEY, low.id].sort());
  });

  it("many distinct keys (one task each): claims take them in claim order, a full key is passed over, listPending with room leaves it out", async () => {
    const { coord, store, register } = h();
    const a = await register("a", { maxWorkers: 50 });
    const b = await register("b");
    const { tasks: created } = await coord.tasks.createBatch(Array.from({ length: 300 }, (_, i) => ({ repo: "acme/app", description: "x", concurrency_key: `tenant-${i}`, priority: i < 100 ? ("high" as const) : ("medium" as const) })));
    // A second task of tenant-0, better than all: the group's head changes.
    const head = (await coord.tasks.createBatch([{ repo: "acme/app", description: "x", concurrency_key: "tenant-0", priority: "critical" }])).tasks[0]!;
    const ids = created.map((t) => t.id);
    expect((await store.listPending({ limit: 3 })).map((t) => t.id)).toEqual([head.id, ids[0], ids[1]]);
    expect((await coord.claimNext({ registration_id: a, worker_name: "w0" }))?.id).toBe(head.id);
    // tenant-0 is full now: its other task is left out, tenant-1 comes next.
    expect((await store.listPending({ limit: 2, withRoom: true })).map((t) => t.id)).toEqual([ids[1], ids[2]]);
    expect((await store.listPending({ limit: 2 })).map((t) => t.id)).toEqual([ids[0], ids[1]]);
    for (let i = 1; i <= 20; i++) expect((await coord.claimNext({ registration_id: a, worker_name: `w${i}` }))?.id).toBe(ids[i]);
    expect(await store.countPending()).toBe(300 - 20);
    expect((await store.pendingBuckets())[0]).toMatchObject({ repo: "acme/app", count: 280, oldest_id: ids[0] });
    // Released, the best task of tenant-0 takes its group's place at the front again.
    await coord.tasks.release(head.id, { registration_id: a });
    expect((await coord.claimNext({ registration_id: b, worker_name: "w" }))?.id).toBe(head.id);
  });

  it("a slot opens when a claim ends by fail, release, cancel, lease expiry or the node being forgotten", async () => {
    const { coord, store, register, createTask, advance } = h();
    const a = await register("a");
    const tasks: Task[] = [];
    for (let i = 0; i < 6; i++) tasks.push(await createTask({ concurrency_key: KEY, concurrency_limit: 2, max_attempts: 10 }));
    const claim = async () => (await coord.claimNext({ registration_id: a, worker_name: "w" }))!;
    const ends: ((t: Task) => Promise<unknown>)[] = [
      (t) => coord.tasks.fail(t.id, { registration_id: a, reason: "x", retry: false }),
      (t) => coord.tasks.release(t.id, { registration_id: a }),
      (t) => coord.tasks.cancel(t.id, null),
      async () => {
        advance(CLAIM_TIMEOUT_MS + 1);
        expect((await coord.sweep()).expired.length).toBeGreaterThan(0);
      },
    ];
    let held = [await claim(), await claim()];
    expect(await coord.claimNext({ registration_id: a, worker_name: "w" })).toBeNull();
    for (const end of ends) {
      await end(held[0]!);
      expect(await store.countClaimedWithKey(KEY)).toBeLessThan(2);
      const next = await claim();
      expect(next.concurrency_key).toBe(KEY);
      held = (await Promise.all((await store.getNode("a"))!.claimed_tasks.map((id) => store.getTask(id)))).filter(
        (t): t is Task => t?.status === "claimed" && t.concurrency_key === KEY,
      );
      expect(held.length).toBeLessThanOrEqual(2);
      expect(await store.countClaimedWithKey(KEY)).toBe(held.length);
    }
    const forgotten = await coord.nodes.forget("a");
    expect(forgotten!.released_tasks.length).toBeGreaterThan(0);
    expect(await store.countClaimedWithKey(KEY)).toBe(0);
  });

  it("a long poll for a full key gets its next task as soon as a claim of that key completes", async () => {
    const { coord, register, createTask } = h();
    const a = await register("a");
    const b = await register("b");
    const first = await createTask({ concurrency_key: KEY });
    const second = await createTask({ concurrency_key: KEY });
    await coord.tasks.claim(first.id, { registration_id: a, worker_name: "w" });
    const poll = coord.claimNext({ registration_id: b, worker_name: "w", wait_seconds: 30 });
    await eventually(() => expect(coord.longPolls).toBe(1));
    await coord.tasks.complete(first.id, { registration_id: a, pr: "#1" });
    expect((await poll)?.id).toBe(second.id);
  });

  it("of many claims at once, never more than the limit per key are claimed", async () => {
    const { coord, store, register, createTask } = h();
    const limits: Record<string, number> = { a: 1, b: 2, c: 3 };
    for (let i = 0; i < 30; i++) {
      const key = "abc"[i % 3]!;
      await createTask({ concurrency_key: key, concurrency_limit: limits[key] });
    }
    const regs = await Promise.all(Array.from({ length: 6 }, (_, i) => register(`n${i}`, { maxWorkers: 10 })));
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => coord.claimNext({ registration_id: regs[i % 6]!, worker_name: `w${i}` })));
    const claimed = got.filter((t): t is Task => t !== null);
    expect(claimed).toHaveLength(6);
    for (const [key, limit] of Object.entries(limits)) {
      expect(claimed.filter((t) => t.concurrency_key === key)).toHaveLength(limit);
      expect(await store.countClaimedWithKey(key)).toBe(limit);
    }
  });

  it("counts a transaction's own writes before they are committed", async () => {
    const { store, register, createTask, coord } = h();
    const reg = await register("a");
    const t = await createTask({ concurrency_key: KEY, concurrency_limit: 5 });
    const claimed = await coord.tasks.claim(t.id, { registration_id: reg, worker_name: "w" });
    const u = await createTask({ concurrency_key: KEY, concurrency_limit: 5 });
    const seen = await store.transact(async (tx) => {
      const before = await tx.countClaimedWithKey(KEY);
      tx.putTask({ ...u, status: "claimed", claimed_node: "a" });
      const withOwn = await tx.countClaimedWithKey(KEY);
      tx.putTask({ ...claimed, status: "pending", claimed_node: null });
      return [before, withOwn, await tx.countClaimedWithKey(KEY)];
    });
    expect(seen).toEqual([1, 2, 1]);
    expect(await store.countClaimedWithKey(KEY)).toBe(1);
  });
}

/** DESIGN §11 retry backoff (tasks.retry_backoff, 30 s by default) on every store. */
export function backoffSpecs(h: () => Harness): void {
  it("a fail with retry waits 30 s, doubling per attempt up to 15 m; the sweep makes it pending; a final fail does not wait", async () => {
    const { coord, store, register, createTask, advance, now } = h();
    const reg = await register("a");
    const task = await createTask({ max_attempts: 8 });
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 7; attempt++) {
      await coord.nodes.heartbeat({ registration_id: reg });
      await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
      const failed = await coord.tasks.fail(task.id, { registration_id: reg, reason: `try ${attempt}` });
      expect(failed).toMatchObject({ status: "waiting", claimed_by: null, failure_reason: `try ${attempt}` });
      expect(await store.getTask(task.id)).toEqual(failed);
      const wait = Date.parse(failed.not_before!) - now();
      waits.push(wait);
      expect(await store.countPending()).toBe(0);
      await expectCode(coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" }), "TASK_NOT_CLAIMABLE");
      advance(wait - 1);
      expect((await coord.sweep()).ready).toEqual([]);
      advance(1);
      expect((await coord.sweep()).ready).toEqual([task.id]);
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000]);
    const events = (await h().allEvents()).filter((e) => e.type === "task.failed");
    expect(events[0]!.data).toMatchObject({ status: "waiting", final: false, backoff_ms: 30_000, not_before: expect.any(String) });
    expect(typesOf((await h().allEvents()).filter((e) => e.data.task_id === task.id)).slice(-3)).toEqual(["task.claimed", "task.failed", "task.ready"]);

    await coord.nodes.heartbeat({ registration_id: reg });
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    expect(await coord.tasks.fail(task.id, { registration_id: reg, reason: "last" })).toMatchObject({ status: "failed", completed_at: expect.any(String) });
    const once = await createTask();
    await coord.tasks.claim(once.id, { registration_id: reg, worker_name: "w" });
    expect((await coord.tasks.fail(once.id, { registration_id: reg, reason: "no", retry: false })).status).toBe("failed");
  });

  it("a long poll gets a backed-off task when its wait is over", async () => {
    const { coord, register, createTask, advance } = h();
    const a = await register("a");
    const b = await register("b");
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: a, worker_name: "w" });
    await coord.tasks.fail(task.id, { registration_id: a, reason: "flaky" });
    const poll = coord.claimNext({ registration_id: b, worker_name: "w", wait_seconds: 30 });
    await eventually(() => expect(coord.longPolls).toBe(1));
    advance(30_000);
    await coord.sweep();
    expect(await poll).toMatchObject({ id: task.id, attempts: 2 });
  });
}
