import { expect, it } from "vitest";
import { SETTLE_BATCH, SETTLE_GRACE_MS, SETTLE_SWEEP_INTERVAL_MS, SWEEP_SETTLE_WRITES } from "../../src/coordinator/dependent-settle.js";
import { CoordError } from "../../src/core/errors.js";
import { DEFAULT_RETENTION } from "../../src/core/retention.js";
import type { Task } from "../../src/core/types.js";
import type { Store, StoreTx } from "../../src/store/types.js";
import { makeHarness, type Harness } from "./conformance-harness.js";

/** What one transaction did: the tasks it wrote and whether it read a dependents list. */
interface TxTrace {
  puts: string[];
  readDependents: boolean;
}

/** The store with each committed transaction's trace in `traces`. */
function traced(inner: Store) {
  const traces: TxTrace[] = [];
  const store: Store = {
    ...inner,
    async transact(fn) {
      let trace: TxTrace = { puts: [], readDependents: false };
      const result = await inner.transact((tx) => {
        trace = { puts: [], readDependents: false };
        const readDependents = (read: (id: string) => Promise<unknown>) => (id: string) => ((trace.readDependents = true), read(id));
        const wrapped: StoreTx = {
          ...tx,
          listDependents: readDependents(tx.listDependents) as StoreTx["listDependents"],
          countDependents: readDependents(tx.countDependents) as StoreTx["countDependents"],
          putTask: (t) => (trace.puts.push(t.id), tx.putTask(t)),
        };
        return fn(wrapped);
      });
      traces.push(trace);
      return result;
    },
  };
  return { store, traces };
}

/**
 * Ends a task through a second replica over the same store that loses the store right after the
 * end's write (before its follow-up): `end` starts the end's transaction in its first turn.
 */
async function endOnDyingReplica(h: Harness, end: (replica: Harness) => Promise<Task>): Promise<Task> {
  let dead = false;
  const lost: Store = {
    ...h.store,
    transact: (fn) => (dead ? Promise.reject(new CoordError("UNAVAILABLE", "store lost")) : h.store.transact(fn)),
  };
  const replica = makeHarness(lost, { t: h.now() });
  const ending = end(replica);
  dead = true;
  try {
    return await ending;
  } finally {
    await replica.coord.stop();
  }
}

/**
 * DESIGN §11 settling after an end, on every store: the end writes only the task (so creates of
 * dependents can never make it lose a race on a shared store), and the dependents follow in
 * writes of at most SETTLE_BATCH; the sweep settles those a stopped replica left.
 */
export function settleSpecs(h: () => Harness): void {
  it(`an end reads no dependents list; ${SETTLE_BATCH * 2 + 50} dependents are readied in follow-up writes of at most ${SETTLE_BATCH}`, async () => {
    const { coord, store, register, createTask, now } = h();
    const { store: watched, traces } = traced(store);
    const other = makeHarness(watched, { t: now() });
    const reg = await register("n1");
    const x = await createTask();
    const n = SETTLE_BATCH * 2 + 50;
    const { tasks } = await coord.tasks.createBatch(Array.from({ length: n }, (_, i) => ({ repo: "acme/app", description: `d${i}`, depends_on: [x.id] })));
    await coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
    await other.coord.tasks.complete(x.id, { registration_id: reg });
    await other.coord.stop();

    const [end, ...follow] = traces;
    expect(end).toEqual({ puts: [x.id], readDependents: false });
    expect(follow.map((t) => t.puts.length)).toEqual([SETTLE_BATCH, SETTLE_BATCH, 50]);
    expect(new Set(follow.flatMap((t) => t.puts))).toEqual(new Set(tasks.map((t) => t.id)));
    expect((await store.counts()).tasks).toMatchObject({ waiting: 0, pending: n });
    expect(await store.listDependents(x.id)).toEqual([]);
    expect(await store.unsettledTasks(10)).toEqual([]);
  });

  for (const end of ["complete", "cancel"] as const) {
    it(`dependents left unsettled by a replica that lost its store after a ${end} are settled by a later sweep, after a grace, and kept from retention till then`, async () => {
      const { coord, store, register, createTask, advance } = h();
      const reg = await register("n1");
      const x = await createTask();
      const d = await createTask({ depends_on: [x.id] });
      const e = await createTask({ depends_on: [d.id] });
      await coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
      // The end commits; the store is lost before the follow-up: the end still answers.
      const ended = await endOnDyingReplica(h(), (r) => (end === "complete" ? r.coord.tasks.complete(x.id, { registration_id: reg }) : r.coord.tasks.cancel(x.id, null)));
      expect(ended.status).toBe(end === "complete" ? "completed" : "cancelled");
      expect(await store.getTask(d.id)).toMatchObject({ status: "waiting", blocked_by: [x.id] });
      expect(await store.unsettledTasks(10)).toEqual([x.id]);

      // Within the grace the sweep leaves them to the replica that ended x; past it, the next
      // look comes SETTLE_SWEEP_INTERVAL_MS after the last.
      expect((await coord.sweep()).settled).toEqual([]);
      advance(SETTLE_GRACE_MS + 1);
      expect((await coord.sweep()).settled).toEqual([]);
      // Past retention too: x is kept while its dependents wait, so they are settled by what it ended as.
      advance(Math.max(SETTLE_SWEEP_INTERVAL_MS, DEFAULT_RETENTION.tasksMs));
      expect(await coord.sweep()).toMatchObject({ settled: [x.id], purged_tasks: 0 });
      if (end === "complete") {
        expect(await store.getTask(d.id)).toMatchObject({ status: "pending", blocked_by: [] });
        expect(await store.getTask(e.id)).toMatchObject({ status: "waiting", blocked_by: [d.id] });
      } else {
        expect(await store.getTask(d.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${x.id} cancelled` });
        expect(await store.getTask(e.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${d.id} cancelled` });
      }
      expect(await store.unsettledTasks(10)).toEqual([]);
      // Settled, x goes at the next sweep (its cancelled dependents only ended now).
      expect((await coord.sweep()).purged_tasks).toBe(1);
    });
  }

  it("a dependent of two tasks: the follow-up of one is lost, the other's rewrites the dependent; the sweep still settles the first", async () => {
    const { coord, store, register, createTask, advance } = h();
    const reg = await register("n1");
    const x = await createTask();
    const y = await createTask();
    const d = await createTask({ depends_on: [x.id, y.id] });
    await coord.tasks.claim(y.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
    await endOnDyingReplica(h(), (r) => r.coord.tasks.complete(y.id, { registration_id: reg }));
    expect(await store.unsettledTasks(10)).toEqual([y.id]);
    // x's follow-up takes x out of d's blocked_by; d still waits for y, and y is still found.
    await coord.tasks.complete(x.id, { registration_id: reg });
    expect(await store.getTask(d.id)).toMatchObject({ status: "waiting", blocked_by: [y.id] });
    expect(await store.unsettledTasks(10)).toEqual([y.id]);
    advance(SETTLE_GRACE_MS + 1);
    expect((await coord.sweep()).settled).toEqual([y.id]);
    expect(await store.getTask(d.id)).toMatchObject({ status: "pending", blocked_by: [] });
  });

  it(`a sweep makes at most ${SWEEP_SETTLE_WRITES} follow-up writes: a 300-link chain left by a stopped replica is cancelled over several sweeps`, async () => {
    const { coord, store, register, createTask, advance } = h();
    const reg = await register("n1");
    const head = await createTask();
    const chain: string[] = [];
    for (let i = 0, prev = head.id; i < 300; i++) chain.push((prev = (await createTask({ depends_on: [prev] })).id));
    await coord.tasks.claim(head.id, { registration_id: reg, worker_name: "w" });
    await endOnDyingReplica(h(), (r) => r.coord.tasks.fail(head.id, { registration_id: reg, reason: "x", retry: false }));
    advance(SETTLE_GRACE_MS + 1);
    // The sweeps of one replica, counting their transactions.
    let writes = 0;
    const counted = makeHarness({ ...store, transact: (fn) => (writes++, store.transact(fn)) }, { t: h().now() });
    const perSweep: number[] = [];
    while ((await store.getTask(chain.at(-1)!))!.status === "waiting" && perSweep.length < 100) {
      writes = 0;
      await counted.coord.sweep();
      perSweep.push(writes);
      counted.advance(1_000);
    }
    await counted.coord.stop();
    expect(Math.max(...perSweep)).toBeLessThanOrEqual(SWEEP_SETTLE_WRITES);
    expect(perSweep.length).toBe(Math.ceil(chain.length / SWEEP_SETTLE_WRITES));
    for (const id of chain) expect((await store.getTask(id))!.status).toBe("cancelled");
    expect(await store.unsettledTasks(10)).toEqual([]);
  });

  it("a dependency retried before its dependents were settled keeps them waiting for its next end", async () => {
    const { coord, store, register, createTask, advance } = h();
    const reg = await register("n1");
    const x = await createTask();
    const d = await createTask({ depends_on: [x.id] });
    await endOnDyingReplica(h(), (r) => r.coord.tasks.cancel(x.id, null));
    await coord.tasks.retry(x.id);
    // x is live again: nothing to settle, d still waits for it.
    expect(await store.unsettledTasks(10)).toEqual([]);
    advance(SETTLE_SWEEP_INTERVAL_MS);
    expect((await coord.sweep()).settled).toEqual([]);
    expect(await store.getTask(d.id)).toMatchObject({ status: "waiting", blocked_by: [x.id] });
    await coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(x.id, { registration_id: reg });
    expect(await store.getTask(d.id)).toMatchObject({ status: "pending", blocked_by: [] });
  });
}
