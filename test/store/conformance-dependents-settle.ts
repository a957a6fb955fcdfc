import { expect, it } from "vitest";
import { INLINE_SETTLE_TRIES, SETTLE_BATCH, SETTLE_GRACE_MS, SETTLE_SWEEP_INTERVAL_MS, SWEEP_SETTLE_WRITES } from "../../src/coordinator/dependent-settle.js";
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

const LOST_RACE = new Error("lost a race");

/**
 * The store, where each transaction loses its first `races` tries, as on a shared store when
 * other replicas keep changing what it read (a stream of creates naming the task that ends):
 * the try's writes are dropped and the transaction function runs again.
 */
function losing(inner: Store, races: number): Store {
  return {
    ...inner,
    async transact(fn) {
      for (let tries = 1; ; tries++) {
        try {
          return await inner.transact(async (tx) => {
            const result = await fn(tx);
            if (tries <= races) throw LOST_RACE;
            return result;
          });
        } catch (err) {
          if (err !== LOST_RACE) throw err;
        }
      }
    },
  };
}

/**
 * Ends a task through a second replica over the same store whose end loses the races that make
 * it settle nothing in its own write, and that loses the store right after the end's write
 * (before its follow-up): `end` starts the end's transaction in its first turn.
 */
async function endOnDyingReplica(h: Harness, end: (replica: Harness) => Promise<Task>): Promise<Task> {
  let dead = false;
  const racing = losing(h.store, INLINE_SETTLE_TRIES);
  const lost: Store = {
    ...racing,
    transact: (fn) => (dead ? Promise.reject(new CoordError("UNAVAILABLE", "store lost")) : racing.transact(fn)),
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
 * DESIGN §11 settling on an end, on every store: the end readies or cancels its direct dependents
 * in its own write; should it lose INLINE_SETTLE_TRIES races (on a shared store, creates naming
 * the task change its dependents list), it writes only the task, so it cannot be starved, and the
 * dependents follow in writes of at most SETTLE_BATCH; the sweep settles those a stopped replica left.
 */
export function settleSpecs(h: () => Harness): void {
  /** A task with `n` waiting dependents, completed through a second replica over `wrap(store)`; each committed transaction's trace. */
  async function completeWithDependents(n: number, wrap: (store: Store) => Store) {
    const { coord, store, register, createTask, now } = h();
    const { store: watched, traces } = traced(wrap(store));
    const other = makeHarness(watched, { t: now() });
    const reg = await register("n1");
    const x = await createTask();
    const { tasks } = await coord.tasks.createBatch(Array.from({ length: n }, (_, i) => ({ repo: "acme/app", description: `d${i}`, depends_on: [x.id] })));
    await coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
    await other.coord.tasks.complete(x.id, { registration_id: reg });
    await other.coord.stop();
    expect((await store.counts()).tasks).toMatchObject({ waiting: 0, pending: n });
    return { store, x, dependents: tasks.map((t) => t.id), traces };
  }

  it(`an end readies its ${SETTLE_BATCH * 2 + 50} dependents in the same write`, async () => {
    const n = SETTLE_BATCH * 2 + 50;
    const { store, x, dependents, traces } = await completeWithDependents(n, (s) => s);
    expect(traces).toHaveLength(1);
    expect(traces[0]!.readDependents).toBe(true);
    expect(new Set(traces[0]!.puts)).toEqual(new Set([x.id, ...dependents]));
    const events = await store.readEvents(0, 10_000);
    const completed = events.find((e) => e.type === "task.completed" && e.data.task_id === x.id)!;
    const ready = events.filter((e) => e.type === "task.ready");
    expect(ready).toHaveLength(n);
    // One write: its events are consecutive, the completion first.
    expect(ready.map((e) => e.id)).toEqual(ready.map((_, i) => completed.id + 1 + i));
  });

  it(`an end that lost ${INLINE_SETTLE_TRIES} races writes only the task; its ${SETTLE_BATCH * 2 + 50} dependents follow in writes of at most ${SETTLE_BATCH}`, async () => {
    const { store, x, dependents, traces } = await completeWithDependents(SETTLE_BATCH * 2 + 50, (s) => losing(s, INLINE_SETTLE_TRIES));
    const [end, ...follow] = traces;
    expect(end).toEqual({ puts: [x.id], readDependents: false });
    expect(follow.map((t) => t.puts.length)).toEqual([SETTLE_BATCH, SETTLE_BATCH, 50]);
    expect(new Set(follow.flatMap((t) => t.puts))).toEqual(new Set(dependents));
    expect(await store.listDependents(x.id)).toEqual([]);
    expect(await store.unsettledTasks(10)).toEqual([]);
  });

  it("a cancel cancels its dependents in its own write, and theirs after it", async () => {
    const { coord, store, createTask } = h();
    const x = await createTask();
    const d = await createTask({ depends_on: [x.id] });
    const e = await createTask({ depends_on: [d.id] });
    await coord.tasks.cancel(x.id, null);
    expect(await store.getTask(d.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${x.id} cancelled` });
    expect(await store.getTask(e.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${d.id} cancelled` });
    const events = (await store.readEvents(0, 100)).filter((ev) => ev.type === "task.cancelled");
    expect(events.map((ev) => ev.data.task_id)).toEqual([x.id, d.id, e.id]);
    expect(events[1]!.id).toBe(events[0]!.id + 1);
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
