import { expect, it } from "vitest";
import type { CreateTaskInput } from "../../src/coordinator/index.js";
import { MAX_BATCH_TASKS } from "../../src/core/tasks.js";
import { expectCode, typesOf, type Harness } from "./conformance-harness.js";

const items = (n: number, extra: (i: number) => Partial<CreateTaskInput> = () => ({})): CreateTaskInput[] =>
  Array.from({ length: n }, (_, i) => ({ repo: `repo-${i % 3}`, description: `bulk ${i}`, ...extra(i) }));

/** `POST /tasks/batch` on every store: one atomic write of up to 1,000 tasks, all or nothing. */
export function batchSpecs(h: () => Harness): void {
  it("creates 1,000 tasks in one write, in order, with one task.created each, all claimable", async () => {
    const { coord, store, allEvents } = h();
    const before = (await store.eventBounds()).last_id;
    const out = await coord.tasks.createBatch(items(MAX_BATCH_TASKS, (i) => ({ priority: i === 700 ? "critical" : "medium" })));
    expect(out.created).toEqual(Array(MAX_BATCH_TASKS).fill(true));
    expect(out.tasks.map((t) => t.description)).toEqual(items(MAX_BATCH_TASKS).map((t) => t.description));
    expect([...out.tasks.map((t) => t.id)].sort()).toEqual(out.tasks.map((t) => t.id));
    const events = (await allEvents()).filter((e) => e.id > before);
    expect(typesOf(events)).toEqual(Array(MAX_BATCH_TASKS).fill("task.created"));
    expect(events.map((e) => e.data.task_id)).toEqual(out.tasks.map((t) => t.id));
    expect((await store.counts()).tasks.pending).toBe(MAX_BATCH_TASKS);
    expect(await store.countPending("repo-1")).toBe(333);
    expect((await store.listPending({ limit: 2 })).map((t) => t.description)).toEqual(["bulk 700", "bulk 0"]);
  });

  it("answers the existing task for a repeated idempotency key, from before or earlier in the batch", async () => {
    const { coord, store } = h();
    const first = await coord.tasks.create({ repo: "repo-0", description: "bulk 0", idempotency_key: "k0" });
    const out = await coord.tasks.createBatch(items(4, (i) => ({ idempotency_key: `k${i % 2 === 0 ? 0 : i}` })).map((t, i) => (i === 2 ? { ...t, description: "bulk 0", repo: "repo-0" } : t)));
    expect(out.created).toEqual([false, true, false, true]);
    expect(out.tasks[0]!.id).toBe(first.task.id);
    expect(out.tasks[2]!.id).toBe(first.task.id);
    // A key the batch itself used first: the later item gets the earlier one's task.
    const inBatch = await coord.tasks.createBatch([
      { repo: "r", description: "same", idempotency_key: "dup" },
      { repo: "r", description: "same", idempotency_key: "dup" },
    ]);
    expect(inBatch.created).toEqual([true, false]);
    expect(inBatch.tasks[1]!.id).toBe(inBatch.tasks[0]!.id);
    expect((await store.counts()).tasks.pending).toBe(4);
  });

  it("writes nothing when an item is refused, and names the item", async () => {
    const { coord, store } = h();
    await coord.tasks.create({ repo: "repo-0", description: "taken", idempotency_key: "k" });
    const before = await store.eventBounds();
    const conflict = await expectCode(coord.tasks.createBatch(items(5, (i) => (i === 3 ? { idempotency_key: "k" } : {}))), "IDEMPOTENCY_CONFLICT");
    expect(conflict.details).toMatchObject({ index: 3, idempotency_key: "k" });
    const late = await expectCode(coord.tasks.createBatch(items(4, (i) => (i === 2 ? { not_before: "2999-01-01T00:00:00Z" } : {}))), "INVALID_REQUEST");
    expect(late.details).toMatchObject({ index: 2, fields: [{ field: "body.tasks[2].not_before", message: "must be at most a year ahead" }] });
    await expectCode(coord.tasks.createBatch(items(MAX_BATCH_TASKS + 1)), "INVALID_REQUEST");
    expect(await store.eventBounds()).toEqual(before);
    expect((await store.counts()).tasks.pending).toBe(1);
  });

  it("items may depend on existing tasks (depends_on); a missing dependency fails the batch, named", async () => {
    const { coord, store } = h();
    const { task: first } = await coord.tasks.create({ repo: "repo-0", description: "first" });
    const out = await coord.tasks.createBatch([{ repo: "r", description: "free" }, { repo: "r", description: "after first", depends_on: [first.id] }]);
    expect(out.tasks[1]).toMatchObject({ status: "waiting", depends_on: [first.id], blocked_by: [first.id] });
    const before = await store.eventBounds();
    const missing = await expectCode(coord.tasks.createBatch([{ repo: "r", description: "x" }, { repo: "r", description: "y", depends_on: ["task-gone"] }]), "TASK_NOT_FOUND");
    expect(missing.details).toMatchObject({ index: 1, task_id: "task-gone", field: "body.tasks[1].depends_on" });
    expect(await store.eventBounds()).toEqual(before);
  });
}
