import { expect, it } from "vitest";
import type { CoordEvent } from "../../src/core/types.js";
import { MAX_DEPENDENTS } from "../../src/core/dependencies.js";
import { CLAIM_TIMEOUT_MS, eventually, expectCode, typesOf, type Harness } from "./conformance-harness.js";

/** Events about one task, in log order. */
const about = (events: CoordEvent[], id: string) => events.filter((e) => e.data.task_id === id);

/** DESIGN §11 `depends_on` on every store: the dependency index, readiness on completion, cascading cancels. */
export function dependencySpecs(h: () => Harness): void {
  it("a task waits for its dependencies, indexed under each; completing the last one makes it pending (task.ready) before the complete answers", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const a = await createTask();
    const b = await createTask();
    const c = await createTask({ depends_on: [a.id, b.id, a.id] });
    expect(c).toMatchObject({ status: "waiting", depends_on: [a.id, b.id], blocked_by: [a.id, b.id] });
    expect(await store.getTask(c.id)).toEqual(c);
    expect(await store.listDependents(a.id)).toEqual([c.id]);
    expect(await store.listDependents(b.id)).toEqual([c.id]);
    expect((await store.counts()).tasks).toMatchObject({ waiting: 1, pending: 2 });
    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual([a.id, b.id]);
    // Not claimable, and the sweeper's due index does not hold it.
    await expectCode(coord.tasks.claim(c.id, { registration_id: reg, worker_name: "w" }), "TASK_NOT_CLAIMABLE");
    expect(await store.dueTasks(new Date(h().now() + 86_400_000).toISOString(), 10)).toEqual([]);

    await coord.tasks.claim(a.id, { registration_id: reg, worker_name: "w1" });
    await coord.tasks.complete(a.id, { registration_id: reg, pr: "#1" });
    expect(await store.getTask(c.id)).toMatchObject({ status: "waiting", blocked_by: [b.id] });
    expect(await store.listDependents(a.id)).toEqual([]);
    expect(await store.listDependents(b.id)).toEqual([c.id]);

    await coord.tasks.claim(b.id, { registration_id: reg, worker_name: "w2" });
    await coord.tasks.complete(b.id, { registration_id: reg });
    expect(await store.getTask(c.id)).toMatchObject({ status: "pending", blocked_by: [], depends_on: [a.id, b.id] });
    expect(await store.listDependents(b.id)).toEqual([]);
    expect((await coord.tasks.pending({})).map((t) => t.id)).toEqual([c.id]);
    const events = await h().allEvents();
    const completedB = events.find((e) => e.type === "task.completed" && e.data.task_id === b.id)!;
    const ready = about(events, c.id).find((e) => e.type === "task.ready")!;
    // Settled right after the completion, before it answered: nothing came between.
    expect(ready.id).toBe(completedB.id + 1);
    expect(ready.data).toMatchObject({ status: "pending", dependency: b.id });
    expect(typesOf(about(events, c.id))).toEqual(["task.created", "task.ready"]);
    expect((await coord.claimNext({ registration_id: reg, worker_name: "w3" }))?.id).toBe(c.id);
  });

  it("an already-completed dependency does not block; a missing one is 404 TASK_NOT_FOUND; more than 32 is INVALID_REQUEST", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const done = await createTask();
    await coord.tasks.claim(done.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(done.id, { registration_id: reg });
    expect(await createTask({ depends_on: [done.id] })).toMatchObject({ status: "pending", depends_on: [done.id], blocked_by: [] });

    const err = await expectCode(createTask({ depends_on: [done.id, "task-nope"] }), "TASK_NOT_FOUND");
    expect(err.details).toMatchObject({ task_id: "task-nope" });
    const many = Array.from({ length: 33 }, (_, i) => `task-${i}`);
    await expectCode(createTask({ depends_on: many }), "INVALID_REQUEST");
    expect((await store.counts()).tasks).toMatchObject({ pending: 1, completed: 1, waiting: 0 });
  });

  it("a final failure cancels the dependents, transitively, naming the dependency, before the fail answers; a fail with retry does not", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const flaky = await createTask({ max_attempts: 3 });
    const afterFlaky = await createTask({ depends_on: [flaky.id] });
    await coord.tasks.claim(flaky.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.fail(flaky.id, { registration_id: reg, reason: "flaky", retry: true });
    expect(await store.getTask(afterFlaky.id)).toMatchObject({ status: "waiting", blocked_by: [flaky.id] });

    const a = await createTask({ max_attempts: 1 });
    const other = await createTask();
    const b = await createTask({ depends_on: [a.id] });
    const c = await createTask({ depends_on: [b.id] });
    const d = await createTask({ depends_on: [other.id, a.id] });
    await coord.tasks.claim(a.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.fail(a.id, { registration_id: reg, reason: "broken", retry: true }); // attempts used up: final
    expect(await store.getTask(b.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${a.id} failed` });
    expect(await store.getTask(c.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${b.id} cancelled` });
    expect(await store.getTask(d.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${a.id} failed` });
    expect((await store.getTask(other.id))!.status).toBe("pending");
    for (const id of [a.id, b.id, other.id]) expect(await store.listDependents(id)).toEqual([]);
    // Waiting: afterFlaky, and flaky itself, out for its retry backoff.
    expect((await store.counts()).tasks).toMatchObject({ waiting: 2, cancelled: 3, failed: 1 });

    const events = await h().allEvents();
    const failed = events.find((e) => e.type === "task.failed" && e.data.task_id === a.id)!;
    const cancels = events.filter((e) => e.type === "task.cancelled");
    expect(cancels.map((e) => e.id)).toEqual([failed.id + 1, failed.id + 2, failed.id + 3]);
    expect(cancels.find((e) => e.data.task_id === c.id)!.data).toMatchObject({ reason: `dependency ${b.id} cancelled`, dependency: b.id });
  });

  it("a cancel, and a lease expiring for good, cancel the dependents", async () => {
    const { coord, store, register, createTask, advance } = h();
    const reg = await register("n1");
    const a = await createTask();
    const b = await createTask({ depends_on: [a.id] });
    await coord.tasks.cancel(a.id, "not needed");
    expect(await store.getTask(b.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${a.id} cancelled` });

    const x = await createTask({ max_attempts: 1 });
    const y = await createTask({ depends_on: [x.id] });
    await coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
    advance(CLAIM_TIMEOUT_MS + 1);
    expect((await coord.sweep()).expired).toEqual([x.id]);
    expect((await store.getTask(x.id))!.status).toBe("failed");
    expect(await store.getTask(y.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${x.id} failed` });
  });

  it("a task created on a failed or cancelled dependency is created cancelled at once, with a warning", async () => {
    const { coord, store, createTask } = h();
    const a = await createTask();
    await coord.tasks.cancel(a.id, null);
    const live = await createTask();
    const b = await createTask({ depends_on: [a.id, live.id] });
    // It waits for nothing: no blocked_by naming the live dependency, and in no dependents list.
    expect(b).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${a.id} cancelled`, depends_on: [a.id, live.id], blocked_by: [] });
    expect(await store.listDependents(live.id)).toEqual([]);
    expect(await store.getTask(b.id)).toEqual(b);
    expect(await coord.tasks.placementWarnings(b)).toEqual([`the task was cancelled at once: dependency ${a.id} cancelled`]);
    expect(typesOf(about(await h().allEvents(), b.id))).toEqual(["task.created", "task.cancelled"]);
    expect(await store.listDependents(a.id)).toEqual([]);
  });

  it("with not_before still ahead, the last dependency's completion leaves the task waiting and the sweeper readies it", async () => {
    const { coord, store, register, createTask, advance, now } = h();
    const reg = await register("n1");
    const a = await createTask();
    const c = await createTask({ depends_on: [a.id], not_before: new Date(now() + 10_000).toISOString() });
    // A blocked task is not due even once its time came: only the completion can ready it.
    const early = await createTask({ depends_on: [a.id], not_before: new Date(now() + 1_000).toISOString() });
    advance(2_000);
    expect(await store.dueTasks(new Date(now()).toISOString(), 10)).toEqual([]);
    expect((await coord.sweep()).ready).toEqual([]);

    await coord.tasks.claim(a.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(a.id, { registration_id: reg });
    expect(await store.getTask(early.id)).toMatchObject({ status: "pending", blocked_by: [] });
    expect(await store.getTask(c.id)).toMatchObject({ status: "waiting", blocked_by: [] });
    advance(8_000);
    expect((await store.dueTasks(new Date(now()).toISOString(), 10)).map((t) => t.id)).toEqual([c.id]);
    expect((await coord.sweep()).ready).toEqual([c.id]);
    expect((await store.getTask(c.id))!.status).toBe("pending");
  });

  it("retry of a task whose dependency failed is refused until that one is retried; then it waits for it again", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const a = await createTask({ max_attempts: 1 });
    const b = await createTask({ depends_on: [a.id] });
    await coord.tasks.claim(a.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.fail(a.id, { registration_id: reg, reason: "broken", retry: false });
    expect((await store.getTask(b.id))!.status).toBe("cancelled");
    const err = await expectCode(coord.tasks.retry(b.id), "TASK_NOT_RETRYABLE");
    expect(err.details).toMatchObject({ task_id: b.id, dependency: a.id, dependency_status: "failed" });

    await coord.tasks.retry(a.id);
    expect(await coord.tasks.retry(b.id)).toMatchObject({ status: "waiting", blocked_by: [a.id], cancel_reason: null });
    expect(await store.listDependents(a.id)).toEqual([b.id]);
    await coord.tasks.claim(a.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(a.id, { registration_id: reg });
    expect((await store.getTask(b.id))!.status).toBe("pending");
    // Its dependency completed (then purged by retention): a retry runs it at once.
    await coord.tasks.cancel(b.id, "later");
    await store.transact(async (tx) => tx.deleteTask(a.id));
    expect(await coord.tasks.retry(b.id)).toMatchObject({ status: "pending", blocked_by: [] });
  });

  it("removing records keeps the index exact: a purged dependency, a deleted dependent", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1");
    const a = await createTask();
    const b = await createTask();
    const c = await createTask({ depends_on: [a.id, b.id] });
    const gone = await createTask({ depends_on: [b.id] });
    await coord.tasks.claim(a.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(a.id, { registration_id: reg });
    await store.transact(async (tx) => {
      tx.deleteTask(a.id);
      tx.deleteTask(gone.id);
    });
    expect(await store.listDependents(b.id)).toEqual([c.id]);
    await coord.tasks.claim(b.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(b.id, { registration_id: reg });
    expect((await store.getTask(c.id))!.status).toBe("pending");
    expect(await store.listDependents(b.id)).toEqual([]);
  });

  it("a dependent made ready by a completion wakes a long-poll claimer at once", async () => {
    const { coord, register, createTask } = h();
    const worker = await register("worker");
    const lead = await register("lead", { labels: { role: "lead" } });
    const a = await createTask({ labels: { role: "lead" } });
    const c = await createTask({ depends_on: [a.id] });
    await coord.tasks.claim(a.id, { registration_id: lead, worker_name: "w" });
    const poll = coord.claimNext({ registration_id: worker, worker_name: "w", wait_seconds: 30 });
    await eventually(() => expect(coord.longPolls).toBe(1));
    await coord.tasks.complete(a.id, { registration_id: lead });
    expect((await poll)?.id).toBe(c.id);
  });

  it("a dependent created in the same batch as its dependency's completion is readied, never stranded", async () => {
    const { coord, store, register, createTask } = h();
    const reg = await register("n1", { maxWorkers: 50 });
    const deps = [];
    for (let i = 0; i < 20; i++) deps.push(await createTask());
    for (const d of deps) await coord.tasks.claim(d.id, { registration_id: reg, worker_name: `w-${d.id}` });
    // Creates and completions in flight together (one SQLite group commit, one memory queue).
    const created = await Promise.all(
      deps.flatMap((d) => [coord.tasks.create({ repo: "acme/app", description: "next", depends_on: [d.id] }), coord.tasks.complete(d.id, { registration_id: reg })]),
    );
    for (const r of created) {
      if (!("created" in r)) continue;
      expect(await store.getTask(r.task.id)).toMatchObject({ status: "pending", blocked_by: [] });
    }
    expect((await store.counts()).tasks.waiting).toBe(0);
  });

  it("a task has at most MAX_DEPENDENTS waiting dependents: one more is 409 TOO_MANY_DEPENDENTS (create, batch, retry); a cancel settles them all", async () => {
    const { coord, store, createTask } = h();
    const x = await createTask();
    const other = await createTask();
    const fill = Array.from({ length: MAX_DEPENDENTS }, (_, i) => ({ repo: "acme/app", description: `d${i}`, depends_on: [x.id] }));
    const { tasks } = await coord.tasks.createBatch(fill);
    expect((await store.listDependents(x.id)).length).toBe(MAX_DEPENDENTS);

    const err = await expectCode(createTask({ depends_on: [other.id, x.id] }), "TOO_MANY_DEPENDENTS");
    expect(err.details).toMatchObject({ task_id: x.id, limit: MAX_DEPENDENTS });
    await expectCode(coord.tasks.createBatch([{ repo: "acme/app", description: "one more", depends_on: [x.id] }]), "TOO_MANY_DEPENDENTS");
    expect(await store.listDependents(other.id)).toEqual([]);

    // A dependent that leaves the list (cancelled) makes room; retrying it while full is refused.
    await coord.tasks.cancel(tasks[0]!.id, null);
    const again = await createTask({ depends_on: [x.id] });
    await expectCode(coord.tasks.retry(tasks[0]!.id), "TOO_MANY_DEPENDENTS");
    expect((await store.getTask(tasks[0]!.id))!.status).toBe("cancelled");

    // Cancelling x cancels every waiting dependent (x, its 1,000, and the one cancelled before).
    await coord.tasks.cancel(x.id, null);
    expect(await store.listDependents(x.id)).toEqual([]);
    expect((await store.counts()).tasks).toMatchObject({ waiting: 0, cancelled: MAX_DEPENDENTS + 2, pending: 1 });
    expect(await store.getTask(again.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${x.id} cancelled` });
  });
}
