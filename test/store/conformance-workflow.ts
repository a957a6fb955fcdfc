import { expect, it } from "vitest";
import { eventually, expectCode, OFFLINE_THRESHOLD_MS, typesOf, type Harness } from "./conformance-harness.js";

/** DESIGN §11 on every store: cordoned nodes and retried tasks, as the store keeps and indexes them. */
export function workflowSpecs(h: () => Harness): void {
  it("a cordoned node keeps its claims, gets no new ones, and stays cordoned through heartbeats, offline and re-registration", async () => {
    const { coord, store, register, createTask, advance } = h();
    const reg = await register("n1");
    const held = await createTask();
    await coord.tasks.claim(held.id, { registration_id: reg, worker_name: "w1" });
    expect((await coord.nodes.cordon("n1", true)).cordoned).toBe(true);
    expect(await coord.nodes.cordon("n1", true)).toMatchObject({ id: "n1", cordoned: true, claimed_tasks: [held.id] });
    expect((await store.getNode("n1"))!.cordoned).toBe(true);
    expect((await store.listNodes({ status: "online" })).find((n) => n.id === "n1")!.cordoned).toBe(true);

    const next = await createTask();
    await expectCode(coord.tasks.claim(next.id, { registration_id: reg, worker_name: "w2" }), "NODE_CORDONED");
    await expectCode(coord.claimNext({ registration_id: reg, worker_name: "w2" }), "NODE_CORDONED");
    expect((await store.getTask(next.id))!.status).toBe("pending");

    // The heartbeat says so, and still renews the lease of the claim it keeps.
    expect(await coord.nodes.heartbeat({ registration_id: reg })).toMatchObject({ cordoned: true, status: "online" });
    const again = await register("n1");
    expect(await coord.nodes.getNode("n1")).toMatchObject({ cordoned: true, claimed_tasks: [held.id] });
    await expectCode(coord.claimNext({ registration_id: again, worker_name: "w2" }), "NODE_CORDONED");
    // Its running work finishes as usual.
    await coord.tasks.complete(held.id, { registration_id: again, pr: "#1" });
    advance(OFFLINE_THRESHOLD_MS + 1);
    expect((await coord.sweep()).offline).toEqual(["n1"]);
    expect(await store.getNode("n1")).toMatchObject({ status: "offline", cordoned: true });
    expect((await coord.nodes.heartbeat({ registration_id: again })).cordoned).toBe(true);

    expect((await coord.nodes.cordon("n1", false)).cordoned).toBe(false);
    expect((await store.getNode("n1"))!.cordoned).toBe(false);
    expect((await coord.nodes.heartbeat({ registration_id: again })).cordoned).toBe(false);
    expect((await coord.claimNext({ registration_id: again, worker_name: "w2" }))?.id).toBe(next.id);
    const nodeEvents = (await h().allEvents()).filter((e) => e.type === "node.cordoned" || e.type === "node.uncordoned");
    expect(typesOf(nodeEvents)).toEqual(["node.cordoned", "node.uncordoned"]);
    expect(nodeEvents[0]!.data).toMatchObject({ node_id: "n1", claimed_tasks: [held.id] });
    await expectCode(coord.nodes.cordon("nobody", true), "NODE_NOT_FOUND");
  });

  it("a long poll of a node cordoned while it waits gets nothing, and the task goes to another waiter", async () => {
    const { coord, register, createTask } = h();
    const a = await register("a");
    const b = await register("b");
    // A waits long enough that it still waits when B starts (a 1 s wait could run out first on
    // a loaded machine, and the two waiters were never there together); it is ended by hand.
    const stopA = new AbortController();
    const pollA = coord.claimNext({ registration_id: a, worker_name: "w", wait_seconds: 30 }, stopA.signal);
    await eventually(() => expect(coord.longPolls).toBe(1));
    const pollB = coord.claimNext({ registration_id: b, worker_name: "w", wait_seconds: 30 });
    await eventually(() => expect(coord.longPolls).toBe(2));
    await coord.nodes.cordon("a", true);
    const task = await createTask();
    expect((await pollB)?.id).toBe(task.id);
    stopA.abort();
    expect(await pollA).toBeNull();
    expect((await coord.tasks.get(task.id)).claimed_node).toBe("b");
  });

  it("retries a failed or cancelled task: pending, attempts and reasons reset, claimable again, task.retried", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const failed = await createTask({ max_attempts: 1 });
    await coord.tasks.claim(failed.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.fail(failed.id, { registration_id: reg, reason: "broken", retry: false });
    expect(await store.countPending()).toBe(0);

    const retried = await coord.tasks.retry(failed.id);
    expect(retried).toMatchObject({ status: "pending", attempts: 0, failure_reason: null, completed_at: null, claimed_by: null, claimed_node: null });
    expect(await store.getTask(failed.id)).toEqual(retried);
    expect(await store.countPending()).toBe(1);
    expect((await store.counts()).tasks).toMatchObject({ pending: 1, failed: 0 });
    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual([failed.id]);
    const [event] = (await h().allEvents()).filter((e) => e.type === "task.retried");
    expect(event!.data).toMatchObject({ task_id: failed.id, repo: "acme/app", status: "pending", from: "failed", previous_attempts: 1 });
    // The node that failed it may take it at once: a retry is an admin's decision, no cooldown.
    expect((await coord.claimNext({ registration_id: reg, worker_name: "w" }))?.id).toBe(failed.id);
    expect((await store.getTask(failed.id))!.attempts).toBe(1);

    const cancelled = await createTask();
    await coord.tasks.cancel(cancelled.id, "not now");
    expect(await coord.tasks.retry(cancelled.id)).toMatchObject({ status: "pending", cancel_reason: null, completed_at: null });
    expect(typesOf((await h().allEvents()).filter((e) => e.data.task_id === cancelled.id))).toEqual(["task.created", "task.cancelled", "task.retried"]);
  });

  it("a retried task its node was told was cancelled is not cancelled again when that node claims it", async () => {
    const { coord, register, createTask } = h();
    const reg = await register("n1");
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.cancel(task.id, "wrong repo");
    expect((await coord.nodes.heartbeat({ registration_id: reg })).cancelled_task_ids).toEqual([task.id]);
    await coord.tasks.retry(task.id);
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    expect((await coord.nodes.heartbeat({ registration_id: reg })).cancelled_task_ids).toEqual([]);
  });

  it("refuses to retry an unfinished or completed task (TASK_NOT_RETRYABLE) and an unknown one (TASK_NOT_FOUND)", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const pending = await createTask();
    expect((await expectCode(coord.tasks.retry(pending.id), "TASK_NOT_RETRYABLE")).details).toMatchObject({ task_id: pending.id, status: "pending" });
    await coord.tasks.claim(pending.id, { registration_id: reg, worker_name: "w" });
    await expectCode(coord.tasks.retry(pending.id), "TASK_NOT_RETRYABLE");
    await coord.tasks.complete(pending.id, { registration_id: reg, pr: "#2" });
    await expectCode(coord.tasks.retry(pending.id), "TASK_NOT_RETRYABLE");
    expect((await store.getTask(pending.id))!.status).toBe("completed");
    await expectCode(coord.tasks.retry("task-missing"), "TASK_NOT_FOUND");
  });

  it("a retried task wakes a waiting long poll", async () => {
    const { coord, register, createTask } = h();
    const task = await createTask();
    await coord.tasks.cancel(task.id, null);
    const reg = await register("n1");
    const poll = coord.claimNext({ registration_id: reg, worker_name: "w", wait_seconds: 30 });
    await eventually(() => expect(coord.longPolls).toBe(1));
    await coord.tasks.retry(task.id);
    expect((await poll)?.id).toBe(task.id);
  });
}

/** DESIGN §11 `not_before` on every store: waiting, indexed for the sweeper, ready once. */
export function scheduleSpecs(h: () => Harness): void {
  it("a task with a future not_before waits: not claimable, not pending, counted; the sweep makes it pending at that time, once", async () => {
    const { coord, store, register, createTask, advance, now } = h();
    const reg = await register("n1");
    const at = new Date(now() + 10_000).toISOString();
    const task = await createTask({ not_before: at });
    expect(task).toMatchObject({ status: "waiting", not_before: at });
    expect(await store.getTask(task.id)).toEqual(task);
    expect(await coord.tasks.pending({})).toEqual([]);
    expect(await store.countPending()).toBe(0);
    expect((await store.counts()).tasks).toMatchObject({ waiting: 1, pending: 0 });
    expect((await store.listTasks({ status: "waiting", limit: 10 })).tasks.map((t) => t.id)).toEqual([task.id]);
    expect((await expectCode(coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" }), "TASK_NOT_CLAIMABLE")).details).toMatchObject({ status: "waiting" });
    expect(await coord.claimNext({ registration_id: reg, worker_name: "w" })).toBeNull();

    advance(9_000);
    expect(await store.dueTasks(new Date(now()).toISOString(), 10)).toEqual([]);
    expect((await coord.sweep()).ready).toEqual([]);
    advance(1_000); // exactly at not_before: due
    expect((await store.dueTasks(new Date(now()).toISOString(), 10)).map((t) => t.id)).toEqual([task.id]);
    expect((await coord.sweep()).ready).toEqual([task.id]);
    expect((await coord.sweep()).ready).toEqual([]);
    expect(await store.getTask(task.id)).toMatchObject({ status: "pending", not_before: at });
    expect(await store.dueTasks(new Date(now() + 60_000).toISOString(), 10)).toEqual([]);
    expect((await store.counts()).tasks).toMatchObject({ waiting: 0, pending: 1 });
    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual([task.id]);
    const events = (await h().allEvents()).filter((e) => e.data.task_id === task.id);
    expect(typesOf(events)).toEqual(["task.created", "task.ready"]);
    expect(events[0]!.data).toMatchObject({ status: "waiting", not_before: at });
    expect(events[1]!.data).toMatchObject({ status: "pending", not_before: at });
    expect((await coord.claimNext({ registration_id: reg, worker_name: "w" }))?.id).toBe(task.id);
  });

  it("a long poll gets a waiting task once the sweep makes it ready; a past not_before is pending at once; a waiting task can be cancelled", async () => {
    const { coord, store, register, createTask, advance, now } = h();
    const reg = await register("n1");
    const later = await createTask({ not_before: new Date(now() + 5_000).toISOString() });
    const poll = coord.claimNext({ registration_id: reg, worker_name: "w", wait_seconds: 30 });
    await eventually(() => expect(coord.longPolls).toBe(1));
    advance(5_000);
    await coord.sweep();
    expect((await poll)?.id).toBe(later.id);

    expect((await createTask({ not_before: new Date(now() - 1_000).toISOString() })).status).toBe("pending");
    const cancelled = await createTask({ not_before: new Date(now() + 5_000).toISOString() });
    await coord.tasks.cancel(cancelled.id, "not needed");
    advance(10_000);
    expect(await store.dueTasks(new Date(now()).toISOString(), 10)).toEqual([]);
    expect((await coord.sweep()).ready).toEqual([]);
    expect((await store.getTask(cancelled.id))!.status).toBe("cancelled");
  });

  it("refuses a not_before that is not a time, or more than a year ahead", async () => {
    const { coord, now } = h();
    await expectCode(coord.tasks.create({ repo: "r", description: "d", not_before: "2030-13-45T99:00:00Z" }), "INVALID_REQUEST");
    const err = await expectCode(coord.tasks.create({ repo: "r", description: "d", not_before: new Date(now() + 400 * 86_400_000).toISOString() }), "INVALID_REQUEST");
    expect(err.details).toMatchObject({ fields: [{ field: "body.not_before" }] });
  });
}
