import { expect, it } from "vitest";
import { CLAIM_TIMEOUT_MS, OFFLINE_THRESHOLD_MS, expectCode, typesOf, type Harness } from "./conformance-harness.js";

/** DESIGN §4 Leases, Task states and Nodes, as far as the store keeps and indexes them. */
export function lifecycleSpecs(h: () => Harness): void {
  it("renews the leases of a node's claims on every heartbeat", async () => {
    const { createTask, register, coord, store, advance, now } = h();
    const task = await createTask();
    const reg = await register("n1");
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    advance(CLAIM_TIMEOUT_MS - 10_000);
    await coord.nodes.heartbeat({ registration_id: reg });
    expect((await store.getTask(task.id))!.lease_expires_at).toBe(new Date(now() + CLAIM_TIMEOUT_MS).toISOString());
    advance(CLAIM_TIMEOUT_MS - 10_000); // past the first lease, inside the renewed one
    expect(await store.expiredLeases(new Date(now()).toISOString())).toEqual([]);
    expect((await coord.sweep()).expired).toEqual([]);
    expect((await store.getTask(task.id))!.status).toBe("claimed");
    advance(10_000); // exactly at the end of the renewed lease: expired
    expect((await store.expiredLeases(new Date(now()).toISOString())).map((t) => t.id)).toEqual([task.id]);
    expect((await coord.sweep()).expired).toEqual([task.id]);
    expect((await store.getTask(task.id))!.status).toBe("orphaned");
  });

  it("expired lease → orphaned → claimed again → failed for good after max_attempts", async () => {
    const { createTask, register, coord, store, advance } = h();
    const task = await createTask({ max_attempts: 2 });
    const a = await register("a");
    const b = await register("b");
    await coord.tasks.claim(task.id, { registration_id: a, worker_name: "w" });
    advance(CLAIM_TIMEOUT_MS);
    expect((await coord.sweep()).expired).toEqual([task.id]);
    expect(await store.getTask(task.id)).toMatchObject({ status: "orphaned", attempts: 1, lease_expires_at: null });
    expect((await store.getNode("a"))!.claimed_tasks).toEqual([]);
    // Orphaned tasks are claimable: listed, counted, and claimed by the next node that fits.
    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual([task.id]);
    expect(await store.countPending("acme/app")).toBe(1);
    expect((await coord.claimNext({ registration_id: b, worker_name: "w" }))?.id).toBe(task.id);
    expect(await store.countPending()).toBe(0);
    advance(CLAIM_TIMEOUT_MS);
    expect((await coord.sweep()).expired).toEqual([task.id]);
    expect(await store.getTask(task.id)).toMatchObject({ status: "failed", attempts: 2, failure_reason: "lease expired" });
    expect(await store.countPending()).toBe(0);
    expect(await store.expiredLeases(new Date(h().now() + 10 * CLAIM_TIMEOUT_MS).toISOString())).toEqual([]);
    const taskEvents = (await h().allEvents()).filter((e) => e.data.task_id === task.id);
    expect(typesOf(taskEvents)).toEqual(["task.created", "task.claimed", "task.orphaned", "task.claimed", "task.failed"]);
    expect(taskEvents[4]!.data).toMatchObject({ final: true });
  });

  it("complete, fail with retry, release: only the claimant, state and pending index follow", async () => {
    const { createTask, register, coord, store, advance } = h();
    const t1 = await createTask();
    const a = await register("a");
    const b = await register("b");
    await coord.tasks.claim(t1.id, { registration_id: a, worker_name: "w" });
    await expectCode(coord.tasks.complete(t1.id, { registration_id: b }), "NOT_CLAIMANT");
    await coord.tasks.fail(t1.id, { registration_id: a, reason: "flaky" });
    // It waits out the retry backoff (30 s for a first failure), then the sweep makes it pending.
    expect(await store.getTask(t1.id)).toMatchObject({ status: "waiting", failure_reason: "flaky", claimed_by: null });
    advance(30_000);
    await coord.sweep();
    expect(await store.getTask(t1.id)).toMatchObject({ status: "pending", failure_reason: "flaky" });
    expect(await store.countPending()).toBe(1);
    await coord.tasks.claim(t1.id, { registration_id: b, worker_name: "w" });
    await coord.tasks.release(t1.id, { registration_id: b });
    expect((await store.getNode("b"))!.claimed_tasks).toEqual([]);
    await coord.tasks.claim(t1.id, { registration_id: a, worker_name: "w" });
    const done = await coord.tasks.complete(t1.id, { registration_id: a, pr: "#42", summary: "ok" });
    expect(done).toMatchObject({ status: "completed", result: { pr: "#42", summary: "ok" }, attempts: 3 });
    expect(await store.getTask(t1.id)).toEqual(done);
    expect((await store.getNode("a"))!.claimed_tasks).toEqual([]);
    expect(await store.countPending()).toBe(0);
    expect((await store.counts()).tasks).toMatchObject({ completed: 1, pending: 0, claimed: 0 });
  });

  it("marks silent nodes offline and back online on their next heartbeat", async () => {
    const { register, coord, store, advance, createTask, now } = h();
    const a = await register("a");
    const b = await register("b");
    advance(OFFLINE_THRESHOLD_MS / 2);
    await coord.nodes.heartbeat({ registration_id: b });
    advance(OFFLINE_THRESHOLD_MS / 2 + 1);
    expect((await store.staleNodes(new Date(now() - OFFLINE_THRESHOLD_MS).toISOString())).map((n) => n.id)).toEqual(["a"]);
    expect((await coord.sweep()).offline).toEqual(["a"]);
    expect((await coord.sweep()).offline).toEqual([]);
    expect((await store.getNode("a"))!.status).toBe("offline");
    expect((await store.listNodes({ status: "offline" })).map((n) => n.id)).toEqual(["a"]);
    expect((await store.counts()).nodes).toMatchObject({ online: 1, offline: 1 });
    const task = await createTask();
    await expectCode(coord.tasks.claim(task.id, { registration_id: a, worker_name: "w" }), "NODE_OFFLINE");
    await coord.nodes.heartbeat({ registration_id: a });
    expect((await store.getNode("a"))!.status).toBe("online");
    expect(await store.staleNodes(new Date(now() - OFFLINE_THRESHOLD_MS).toISOString())).toEqual([]);
    await coord.tasks.claim(task.id, { registration_id: a, worker_name: "w" });
    const nodeEvents = (await h().allEvents()).filter((e) => e.data.node_id === "a" && e.type.startsWith("node."));
    expect(typesOf(nodeEvents)).toEqual(["node.registered", "node.offline", "node.online"]);
  });

  it("re-registering keeps claims; deregistering releases them to pending", async () => {
    const { createTask, register, coord, store } = h();
    const t1 = await createTask();
    const t2 = await createTask();
    const first = await register("n1", { labels: { pool: "gpu" } });
    await coord.tasks.claim(t1.id, { registration_id: first, worker_name: "w1" });
    await coord.tasks.claim(t2.id, { registration_id: first, worker_name: "w2" });
    const second = await register("n1", { labels: { pool: "gpu" } });
    expect(await store.getNodeByRegistration(first)).toBeUndefined();
    expect((await store.getNodeByRegistration(second))?.id).toBe("n1");
    await expectCode(coord.nodes.heartbeat({ registration_id: first }), "REGISTRATION_NOT_FOUND");
    expect((await store.getNode("n1"))!.claimed_tasks.sort()).toEqual([t1.id, t2.id].sort());

    const res = await coord.nodes.deregister(second);
    expect(res.released_tasks.sort()).toEqual([t1.id, t2.id].sort());
    expect(await store.getNode("n1")).toMatchObject({ status: "deregistered", registration_id: null, claimed_tasks: [] });
    expect(await store.getNodeByRegistration(second)).toBeUndefined();
    for (const id of [t1.id, t2.id]) expect((await store.getTask(id))!.status).toBe("pending");
    expect(await store.countPending()).toBe(2);
    expect(await store.expiredLeases(new Date(h().now() + 10 * CLAIM_TIMEOUT_MS).toISOString())).toEqual([]);
    expect((await store.listNodes({ status: "deregistered" })).map((n) => n.id)).toEqual(["n1"]);
    expect(typesOf((await h().allEvents()).slice(-3))).toEqual(["task.released", "task.released", "node.deregistered"]);
  });

  it("cancels unfinished tasks and tells the claimant once, in its next heartbeat", async () => {
    const { createTask, register, coord, store } = h();
    const pending = await createTask();
    const claimed = await createTask();
    const reg = await register("n1");
    await coord.tasks.claim(claimed.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.cancel(pending.id, "not needed");
    await coord.tasks.cancel(claimed.id, null);
    expect(await store.getTask(pending.id)).toMatchObject({ status: "cancelled", cancel_reason: "not needed" });
    expect(await store.countPending()).toBe(0);
    expect(await coord.tasks.pending({})).toEqual([]);
    expect((await store.getNode("n1"))!.claimed_tasks).toEqual([]);
    expect(await store.expiredLeases(new Date(h().now() + 10 * CLAIM_TIMEOUT_MS).toISOString())).toEqual([]);
    expect((await coord.nodes.heartbeat({ registration_id: reg })).cancelled_task_ids).toEqual([claimed.id]);
    // Announced again (a lost answer must hide nothing) until the claim timeout has passed.
    expect((await coord.nodes.heartbeat({ registration_id: reg })).cancelled_task_ids).toEqual([claimed.id]);
    h().advance(CLAIM_TIMEOUT_MS);
    expect((await coord.nodes.heartbeat({ registration_id: reg })).cancelled_task_ids).toEqual([]);
    await expectCode(coord.tasks.cancel(pending.id, null), "TASK_NOT_CLAIMABLE");
    expect((await store.counts()).tasks.cancelled).toBe(2);
  });

  it("lists tasks newest first with cursors and filters, and nodes by status and labels", async () => {
    const { createTask, register, coord, store } = h();
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await createTask({ repo: i % 2 ? "acme/odd" : "acme/even" }));
    const reg = await register("gpu", { labels: { pool: "gpu", region: "eu" } });
    await register("cpu", { labels: { pool: "cpu" } });
    await coord.tasks.claim(made[1]!.id, { registration_id: reg, worker_name: "w" });
    const newestFirst = made.map((t) => t.id).reverse();
    const pages: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listTasks({ limit: 3, cursor });
      pages.push(...page.tasks.map((t) => t.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(pages).toEqual(newestFirst);
    const odd = await store.listTasks({ repo: "acme/odd", limit: 2 });
    expect(odd.tasks.map((t) => t.id)).toEqual([made[5]!.id, made[3]!.id]);
    const rest = await store.listTasks({ repo: "acme/odd", limit: 2, cursor: odd.next_cursor! });
    expect(rest.tasks.map((t) => t.id)).toEqual([made[1]!.id]);
    expect(rest.next_cursor).toBeNull();
    expect((await store.listTasks({ status: "pending", repo: "acme/odd", limit: 10 })).tasks.map((t) => t.id)).toEqual([made[5]!.id, made[3]!.id]);
    expect((await store.listTasks({ status: "claimed", limit: 10 })).tasks.map((t) => t.id)).toEqual([made[1]!.id]);
    expect((await store.listNodes({})).map((n) => n.id)).toEqual(["cpu", "gpu"]);
    expect((await store.listNodes({ labels: { pool: "gpu" } })).map((n) => n.id)).toEqual(["gpu"]);
    expect((await store.listNodes({ status: "online", labels: { region: "us" } })).map((n) => n.id)).toEqual([]);
    expect(await store.countPending("acme/even")).toBe(4);
    expect(await store.countPending("acme/none")).toBe(0);
  });
}
