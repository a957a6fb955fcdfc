import { expect, it } from "vitest";
import { RECLAIM_COOLDOWN_MS } from "../../src/core/tasks.js";
import type { Harness } from "./conformance-harness.js";

/**
 * What the agent relies on (DESIGN §15): a claim narrowed to the repos multiclaude has on the
 * node, a task given back not handed straight to the same node, and the branch of a result.
 */
export function agentClaimSpecs(h: () => Harness): void {
  it("claims and lists only tasks of the given repos, in claim order; [] matches nothing", async () => {
    const { createTask, register, coord } = h();
    const a = await createTask({ repo: "alpha", priority: "low" });
    const b = await createTask({ repo: "beta", priority: "high" });
    const c = await createTask({ repo: "gamma", priority: "critical" });
    const a2 = await createTask({ repo: "alpha", priority: "critical", labels: { pool: "gpu" } });
    const ids = async (q: Parameters<typeof coord.tasks.pending>[0]) => (await coord.tasks.pending(q)).map((t) => t.id);

    expect(await ids({ repos: ["alpha", "beta"] })).toEqual([a2.id, b.id, a.id]);
    expect(await ids({ repos: ["alpha", "beta"], labels: {} })).toEqual([b.id, a.id]);
    expect(await ids({ repos: [] })).toEqual([]);
    expect(await ids({ repos: ["nowhere"] })).toEqual([]);
    // repo and repos both narrow.
    expect(await ids({ repo: "beta", repos: ["alpha", "beta"] })).toEqual([b.id]);
    expect(await ids({ repo: "gamma", repos: ["alpha"] })).toEqual([]);

    const reg = await register("n1");
    expect(await coord.claimNext({ registration_id: reg, worker_name: "w0", repos: [] })).toBeNull();
    expect((await coord.claimNext({ registration_id: reg, worker_name: "w1", repos: ["beta", "alpha"] }))?.id).toBe(b.id);
    expect((await coord.claimNext({ registration_id: reg, worker_name: "w2", repos: ["beta", "alpha"] }))?.id).toBe(a.id);
    expect(await coord.claimNext({ registration_id: reg, worker_name: "w3", repos: ["beta", "alpha"] })).toBeNull();
    expect((await coord.tasks.get(c.id)).status).toBe("pending");
  });

  it("a long-polled claim with a repos filter wakes only for tasks of those repos", async () => {
    const { createTask, register, coord } = h();
    const reg = await register("n1");
    const waiting = coord.claimNext({ registration_id: reg, worker_name: "w", repos: ["wanted"], wait_seconds: 30 });
    await createTask({ repo: "other" });
    const wanted = await createTask({ repo: "wanted" });
    expect((await waiting)?.id).toBe(wanted.id);
  });

  it("does not hand a task back to the node that gave it back until the cooldown is over; other nodes take it at once", async () => {
    const { createTask, register, coord, advance } = h();
    const first = await createTask({ priority: "high" });
    const second = await createTask({ priority: "low" });
    const n1 = await register("n1");
    const n2 = await register("n2");
    expect((await coord.claimNext({ registration_id: n1, worker_name: "w" }))?.id).toBe(first.id);
    const released = await coord.tasks.release(first.id, { registration_id: n1, reason: "start failed" });
    expect(released.status).toBe("pending");
    expect(released.cooldown?.node_id).toBe("n1");

    // n1 skips its own released task and gets the next one; nothing more for it.
    expect((await coord.claimNext({ registration_id: n1, worker_name: "w2" }))?.id).toBe(second.id);
    expect(await coord.claimNext({ registration_id: n1, worker_name: "w3" })).toBeNull();
    // Another node may take it at once.
    expect((await coord.claimNext({ registration_id: n2, worker_name: "w" }))?.id).toBe(first.id);
    await coord.tasks.fail(first.id, { registration_id: n2, reason: "flaky", retry: true });
    // A retried failure waits out tasks.retry_backoff first, for every node (60 s: 30 s doubled, its second attempt).
    expect(await coord.claimNext({ registration_id: n1, worker_name: "w2" })).toBeNull();
    advance(60_000);
    await coord.sweep();
    // n1's cooldown is n2's no longer: n1 gets it now.
    expect((await coord.claimNext({ registration_id: n1, worker_name: "w4" }))?.id).toBe(first.id);
    await coord.tasks.release(first.id, { registration_id: n1 });
    advance(RECLAIM_COOLDOWN_MS + 1);
    const again = await coord.claimNext({ registration_id: n1, worker_name: "w5" });
    expect(again).toMatchObject({ id: first.id, cooldown: null });
  });

  it("a long-polling node whose cooling task is the only one lets another waiting node take it", async () => {
    const { createTask, register, coord } = h();
    const task = await createTask();
    const n1 = await register("n1", { labels: { pool: "x" } });
    const n2 = await register("n2", { labels: { pool: "x" } });
    await coord.claimNext({ registration_id: n1, worker_name: "w" });
    // Both wait (same labels, so the same waiter key); n1 is first in line.
    const w1 = coord.claimNext({ registration_id: n1, worker_name: "w1", wait_seconds: 1 });
    const w2 = coord.claimNext({ registration_id: n2, worker_name: "w2", wait_seconds: 30 });
    await coord.tasks.release(task.id, { registration_id: n1, reason: "start failed" });
    expect((await w2)?.id).toBe(task.id);
    expect(await w1).toBeNull();
  });

  it("records the branch of a completed task and announces it", async () => {
    const { createTask, register, coord, allEvents } = h();
    const task = await createTask();
    const reg = await register("n1");
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    const done = await coord.tasks.complete(task.id, { registration_id: reg, summary: "did it", branch: "work/proud-tiger" });
    expect(done.result).toEqual({ pr: null, summary: "did it", branch: "work/proud-tiger" });
    expect((await coord.tasks.get(task.id)).result?.branch).toBe("work/proud-tiger");
    const ev = (await allEvents()).find((e) => e.type === "task.completed");
    expect(ev?.data).toMatchObject({ task_id: task.id, branch: "work/proud-tiger", pr: null });
  });
}
