import { expect, it } from "vitest";
import type { Task } from "../../src/core/types.js";
import { expectCode, type Harness } from "./conformance-harness.js";

/** DESIGN §4 Claims and Labels: order, requirements, first write wins, capacity, idempotency. */
export function claimSpecs(h: () => Harness): void {
  it("claims by priority, then oldest first, and lists pending tasks in the same order", async () => {
    const { createTask, register, coord } = h();
    const low = await createTask({ priority: "low" });
    const crit1 = await createTask({ priority: "critical" });
    const med = await createTask({ priority: "medium" });
    const high = await createTask({ priority: "high" });
    const crit2 = await createTask({ priority: "critical" });
    const expected = [crit1, crit2, high, med, low].map((t) => t.id);

    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual(expected);
    expect((await coord.tasks.pending({ limit: 2 })).map((t) => t.id)).toEqual(expected.slice(0, 2));

    const reg = await register("n1");
    const claimed: string[] = [];
    for (let i = 0; i < 5; i++) claimed.push((await coord.claimNext({ registration_id: reg, worker_name: `w${i}` }))!.id);
    expect(claimed).toEqual(expected);
    expect(await coord.claimNext({ registration_id: reg, worker_name: "w9" })).toBeNull();
    expect(await coord.tasks.pending({})).toEqual([]);
  });

  it("merges claim order across label buckets and repos", async () => {
    const { createTask, register, coord } = h();
    const a = await createTask({ priority: "high", labels: { pool: "gpu" } });
    const b = await createTask({ priority: "high", repo: "acme/other" });
    const c = await createTask({ priority: "critical", labels: { region: "us" } });
    const d = await createTask({ priority: "high" });
    const reg = await register("n1", { labels: { pool: "gpu", region: "us" } });
    expect((await coord.tasks.pending({ labels: { pool: "gpu", region: "us" } })).map((t) => t.id)).toEqual([c.id, a.id, b.id, d.id]);
    expect((await coord.tasks.pending({ repo: "acme/app" })).map((t) => t.id)).toEqual([c.id, a.id, d.id]);
    const got = await coord.claimNext({ registration_id: reg, worker_name: "w", repo: "acme/other" });
    expect(got?.id).toBe(b.id);
  });

  it("lists the best of many buckets in claim order, however the best are spread over them", async () => {
    const { createTask, coord } = h();
    // Six buckets (3 repos × 2 label sets); one holds all the critical tasks, more than its share of any limit.
    const ranks = ["critical", "high", "medium", "low"] as const;
    const made: { id: string; rank: number; at: number }[] = [];
    for (let i = 0; i < 36; i++) {
      const bucket = i % 6;
      const rank = bucket === 0 ? 0 : 1 + (i % 3);
      const t = await createTask({ priority: ranks[rank], repo: `acme/r${bucket % 3}`, labels: bucket < 3 ? {} : { pool: "gpu" } });
      made.push({ id: t.id, rank, at: i });
    }
    const order = made.sort((a, b) => a.rank - b.rank || a.at - b.at).map((t) => t.id);
    for (const limit of [1, 5, 7, 13, 36, 50]) {
      expect((await coord.tasks.pending({ labels: { pool: "gpu" }, limit })).map((t) => t.id)).toEqual(order.slice(0, limit));
    }
  });

  it("treats labels as requirements in claims and in the pending list", async () => {
    const { createTask, register, coord } = h();
    const gpu = await createTask({ labels: { pool: "gpu" } });
    const gpuUs = await createTask({ labels: { pool: "gpu", region: "us" } });
    const any = await createTask();

    const ids = async (labels: Record<string, string>) => (await coord.tasks.pending({ labels })).map((t) => t.id).sort();
    expect(await ids({})).toEqual([any.id]);
    expect(await ids({ pool: "gpu" })).toEqual([gpu.id, any.id].sort());
    expect(await ids({ pool: "gpu", region: "us", extra: "x" })).toEqual([gpu.id, gpuUs.id, any.id].sort());
    expect(await ids({ pool: "cpu", region: "us" })).toEqual([any.id]);

    const cpu = await register("cpu-node", { labels: { pool: "cpu" } });
    const err = await expectCode(coord.tasks.claim(gpu.id, { registration_id: cpu, worker_name: "w" }), "LABELS_NOT_SATISFIED");
    expect(err.details.missing).toEqual({ pool: "gpu" });
    // A node without pool:gpu is handed the unlabelled task and then nothing.
    expect((await coord.claimNext({ registration_id: cpu, worker_name: "w1" }))?.id).toBe(any.id);
    expect(await coord.claimNext({ registration_id: cpu, worker_name: "w2" })).toBeNull();
    expect((await coord.tasks.get(gpu.id)).status).toBe("pending");
  });

  it("first write wins: of 50 concurrent claims of one task exactly one succeeds", async () => {
    const { createTask, register, coord, store } = h();
    const task = await createTask();
    const regs: string[] = [];
    for (let n = 0; n < 10; n++) regs.push(await register(`node-${n}`, { maxWorkers: 5 }));
    const claims = Array.from({ length: 50 }, (_, i) =>
      coord.tasks.claim(task.id, { registration_id: regs[i % 10]!, worker_name: `w${i}` }),
    );
    const results = await Promise.allSettled(claims);
    const won = results.filter((r): r is PromiseFulfilledResult<Task> => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const winner = won[0]!.value;
    for (const r of results) {
      if (r.status === "rejected") {
        expect(r.reason).toMatchObject({ code: "TASK_CLAIMED", details: { claimed_by: winner.claimed_by, claimed_at: winner.claimed_at } });
      }
    }
    const stored = await store.getTask(task.id);
    expect(stored).toMatchObject({ status: "claimed", claimed_by: winner.claimed_by, attempts: 1 });
    const holders = (await store.listNodes({})).filter((n) => n.claimed_tasks.includes(task.id));
    expect(holders.map((n) => n.id)).toEqual([winner.claimed_node]);
    const claimedEvents = (await h().allEvents()).filter((e) => e.type === "task.claimed");
    expect(claimedEvents).toHaveLength(1);
  });

  it("never exceeds a node's capacity under concurrent claim-next", async () => {
    const { createTask, register, coord, store } = h();
    for (let i = 0; i < 10; i++) await createTask();
    const reg = await register("small", { maxWorkers: 3 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => coord.claimNext({ registration_id: reg, worker_name: `w${i}` })),
    );
    const claimed = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value.id] : []));
    expect(claimed).toHaveLength(3);
    expect(new Set(claimed).size).toBe(3);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "NODE_AT_CAPACITY" });
    expect((await store.getNode("small"))!.claimed_tasks.sort()).toEqual(claimed.sort());
    expect((await store.counts()).tasks.claimed).toBe(3);
    expect(await store.countPending()).toBe(7);
  });

  it("hands each task to one node when many nodes claim-next at once", async () => {
    const { createTask, register, coord, store } = h();
    for (let i = 0; i < 6; i++) await createTask();
    const regs = await Promise.all([0, 1, 2, 3].map((n) => register(`pool-${n}`, { maxWorkers: 2 })));
    const results = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) => coord.claimNext({ registration_id: regs[i % 4]!, worker_name: `w${i}` })),
    );
    const claimed = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value] : []));
    expect(claimed).toHaveLength(6);
    expect(new Set(claimed.map((t) => t.id)).size).toBe(6);
    for (const n of await store.listNodes({})) expect(n.claimed_tasks.length).toBeLessThanOrEqual(2);
    const total = (await store.listNodes({})).reduce((sum, n) => sum + n.claimed_tasks.length, 0);
    expect(total).toBe(6);
    expect(await store.countPending()).toBe(0);
  });

  it("returns the first task for a repeated idempotency key, also under concurrency", async () => {
    const { coord, store } = h();
    const input = { repo: "acme/app", description: "build", idempotency_key: "key-1" };
    const results = await Promise.all(Array.from({ length: 10 }, () => coord.tasks.create(input)));
    const ids = new Set(results.map((r) => r.task.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const again = await coord.tasks.create(input);
    expect(again).toMatchObject({ created: false, task: { id: results[0]!.task.id } });
    expect((await store.getTaskByIdempotencyKey("key-1"))?.id).toBe(results[0]!.task.id);
    expect(await store.getTaskByIdempotencyKey("key-2")).toBeUndefined();
    await expectCode(coord.tasks.create({ ...input, description: "something else" }), "IDEMPOTENCY_CONFLICT");
    expect((await store.listTasks({ limit: 100 })).tasks).toHaveLength(1);
    expect((await h().allEvents()).filter((e) => e.type === "task.created")).toHaveLength(1);
  });
}
