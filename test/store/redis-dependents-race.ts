import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { Task } from "../../src/core/types.js";
import { SETTLE_SWEEP_INTERVAL_MS } from "../../src/coordinator/dependent-settle.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { Store } from "../../src/store/types.js";
import { eventually, makeHarness, type Harness } from "./conformance-harness.js";

/** Dependents waiting on the task that ends in the churn test (a wide settle: a long transaction). */
const FILL = 500;
/** Runs the ending replica's store gives a transaction: the end must win within these. */
const END_ATTEMPTS = 3;

/** Races between a task's end and creates of its dependents, over replicas sharing one Redis and one clock. */
export function dependentsRaceSpecs(url: () => string, nextPrefix: () => string): void {
  describe("dependents across replicas on one redis-server", () => {
    let stores: Store[] = [];
    let harnesses: Harness[] = [];
    let prefix = "";

    /** Replicas on one key prefix; `attempts[i]` bounds the runs of replica i's transactions. */
    async function open(attempts: (number | undefined)[]): Promise<Harness[]> {
      const keyPrefix = (prefix = nextPrefix());
      const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
      stores = await Promise.all(attempts.map((maxAttempts) => createRedisStore(url(), { keyPrefix, maxAttempts })));
      harnesses = stores.map((s) => makeHarness(s, clock));
      return harnesses;
    }

    afterEach(async () => {
      await Promise.all(harnesses.map((h) => h.coord.stop()));
      await Promise.all(stores.map((s) => s.close()));
      harnesses = [];
      stores = [];
    });

    it("a dependent created on one replica while the other completes or cancels its dependency is never stranded waiting", async () => {
      const [a, b] = await open([undefined, undefined]);
      const reg = await a!.register("n1", { maxWorkers: 100 });
      const ends: Promise<unknown>[] = [];
      const creates: Promise<{ task: Task }>[] = [];
      for (let i = 0; i < 40; i++) {
        const dep = await a!.createTask();
        await a!.coord.tasks.claim(dep.id, { registration_id: reg, worker_name: `w${i}` });
        creates.push(b!.coord.tasks.create({ repo: "acme/app", description: `after ${i}`, depends_on: [dep.id] }));
        ends.push(i % 2 ? a!.coord.tasks.cancel(dep.id, "no") : a!.coord.tasks.complete(dep.id, { registration_id: reg }));
      }
      await Promise.all(ends);
      const created = await Promise.all(creates);
      for (const [i, { task }] of created.entries()) {
        const stored = (await a!.store.getTask(task.id))!;
        if (i % 2) expect(stored).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${task.depends_on![0]} cancelled` });
        else expect(stored).toMatchObject({ status: "pending", blocked_by: [] });
      }
      expect((await b!.store.counts()).tasks.waiting).toBe(0);
    });

    // The two interleavings of that race, forced: one transaction is held between its read of
    // the dependency and its commit while the other commits.
    for (const end of ["complete", "cancel"] as const) {
      it(`a ${end} that read its task before a dependent was created on the other replica runs again and settles the dependent in its own write`, async () => {
        const [a, b] = await open([undefined, undefined]);
        const gate = holdAfter(stores[0]!);
        const slow = makeHarness(gate.store, { t: a!.now() });
        const reg = await a!.register("n1");
        const dep = await a!.createTask();
        await a!.coord.tasks.claim(dep.id, { registration_id: reg, worker_name: "w" });
        const ending = end === "complete" ? slow.coord.tasks.complete(dep.id, { registration_id: reg }) : slow.coord.tasks.cancel(dep.id, null);
        await gate.reached;
        const { task } = await b!.coord.tasks.create({ repo: "acme/app", description: "next", depends_on: [dep.id] });
        expect(task.status).toBe("waiting");
        gate.release();
        await ending;
        // The end read the dependents list (it settles them in its own write), so the create made it run again.
        expect(gate.runs()).toBe(2);
        expect(await b!.store.getTask(task.id)).toMatchObject(end === "complete" ? { status: "pending", blocked_by: [] } : { status: "cancelled" });
        await slow.coord.stop();
      });

      it(`a create that read its dependency before the other replica's ${end} runs again and is not left waiting`, async () => {
        const [a] = await open([undefined, undefined]);
        const gate = holdAfter(stores[1]!);
        const slow = makeHarness(gate.store, { t: a!.now() });
        const reg = await a!.register("n1");
        const dep = await a!.createTask();
        await a!.coord.tasks.claim(dep.id, { registration_id: reg, worker_name: "w" });
        const creating = slow.coord.tasks.create({ repo: "acme/app", description: "next", depends_on: [dep.id] });
        await gate.reached;
        await (end === "complete" ? a!.coord.tasks.complete(dep.id, { registration_id: reg }) : a!.coord.tasks.cancel(dep.id, null));
        gate.release();
        const { task } = await creating;
        expect(gate.runs()).toBe(2);
        expect(task).toMatchObject(end === "complete" ? { status: "pending", blocked_by: [] } : { status: "cancelled", blocked_by: [] });
        expect(await a!.store.getTask(task.id)).toEqual(task);
        await slow.coord.stop();
      });
    }

    it("many concurrent creates naming one task through both replicas all succeed (the cap's count is no commit condition)", async () => {
      const [a, b] = await open([undefined, undefined]);
      const x = await a!.createTask();
      const made = await Promise.all(
        Array.from({ length: 300 }, (_, i) => (i % 2 ? b! : a!).coord.tasks.create({ repo: "acme/app", description: `d${i}`, depends_on: [x.id] })),
      );
      expect(made.every((r) => r.task.status === "waiting")).toBe(true);
      expect((await a!.store.listDependents(x.id)).sort()).toEqual(made.map((r) => r.task.id).sort());
    });

    it("an unsettled-set entry left by a dependent indexed before the set existed is dropped when read", async () => {
      const [a] = await open([undefined]);
      const reg = await a!.register("n1");
      const x = await a!.createTask();
      const d = await a!.createTask({ depends_on: [x.id] });
      // What an older build wrote: the dependent's "h" entry without the unsettled set.
      const raw = new Redis(url());
      const key = `${prefix}task:${d.id}`;
      const fp = JSON.parse((await raw.hget(key, "x"))!) as string[][];
      await raw.hset(key, "x", JSON.stringify(fp.map((e) => (e[0] === "h" ? e.slice(0, 3) : e))));
      await a!.coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
      await a!.coord.tasks.complete(x.id, { registration_id: reg });
      expect(await a!.store.getTask(d.id)).toMatchObject({ status: "pending" });
      expect(await raw.sismember(`${prefix}unsettled`, x.id)).toBe(1);
      expect(await a!.store.unsettledTasks(10)).toEqual([]);
      expect(await raw.sismember(`${prefix}unsettled`, x.id)).toBe(0);
      raw.disconnect();
    });

    it("rewriting a dependent leaves the dependents lists it stays in as they were (no new version)", async () => {
      const [a] = await open([undefined]);
      const reg = await a!.register("n1");
      const x = await a!.createTask();
      const y = await a!.createTask();
      const d = await a!.createTask({ depends_on: [x.id, y.id] });
      const raw = new Redis(url());
      const version = () => raw.hget(`${prefix}deps:${y.id}`, "v");
      const before = await version();
      expect(before).not.toBeNull();
      // x's follow-up rewrites d (blocked_by [y]); d's entry in y's list is the same before and after.
      await a!.coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
      await a!.coord.tasks.complete(x.id, { registration_id: reg });
      expect(await a!.store.getTask(d.id)).toMatchObject({ blocked_by: [y.id] });
      expect(await version()).toBe(before);
      raw.disconnect();
    });

    for (const end of ["complete", "cancel"] as const) {
      it(`a task's ${end} wins within ${END_ATTEMPTS} runs while six creators on two replicas add and drop its dependents back to back`, async () => {
        const [a, b, ender] = await open([undefined, undefined, END_ATTEMPTS]);
        const reg = await ender!.register("n1");
        const x = await ender!.createTask();
        const fill = Array.from({ length: FILL }, (_, i) => ({ repo: "acme/app", description: `d${i}`, depends_on: [x.id] }));
        const { tasks: waiting } = await ender!.coord.tasks.createBatch(fill);
        await ender!.coord.tasks.claim(x.id, { registration_id: reg, worker_name: "w" });
        // Each turn creates a dependent of x and cancels it at once, with no pause: two writes
        // to x's dependents list per turn, from three creators on each of two replicas.
        let done = false;
        let turns = 0;
        const failures: unknown[] = [];
        const creator = async (h: Harness) => {
          while (!done) {
            try {
              const { task } = await h.coord.tasks.create({ repo: "acme/app", description: "churn", depends_on: [x.id] });
              // x's end may have settled it first.
              if (task.status === "waiting") await h.coord.tasks.cancel(task.id, null).catch((err) => expect(err).toMatchObject({ code: "TASK_NOT_CLAIMABLE" }));
            } catch (err) {
              failures.push(err);
            }
            turns++;
          }
        };
        const churn = Promise.all([a, a, a, b, b, b].map((h) => creator(h!)));
        await eventually(async () => expect(turns).toBeGreaterThan(30));
        let ended: Task;
        try {
          ended = await (end === "complete" ? ender!.coord.tasks.complete(x.id, { registration_id: reg }) : ender!.coord.tasks.cancel(x.id, null));
        } finally {
          done = true;
          await churn;
        }
        expect(failures).toEqual([]);
        expect(ended.status).toBe(end === "complete" ? "completed" : "cancelled");
        // Every dependent is settled: by the end's own follow-up, or else by a sweep once the
        // end is older than the grace the sweep leaves a live follow-up.
        ender!.advance(SETTLE_SWEEP_INTERVAL_MS);
        await ender!.coord.sweep();
        expect((await a!.store.counts()).tasks.waiting).toBe(0);
        expect(await a!.store.listDependents(x.id)).toEqual([]);
        for (const t of waiting) {
          const stored = (await b!.store.getTask(t.id))!;
          if (end === "complete") expect(stored).toMatchObject({ status: "pending", blocked_by: [] });
          else expect(stored).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${x.id} cancelled` });
        }
      });
    }
  });
}

/**
 * The store with its first transaction's first task read held (after the read, before the commit)
 * until `release()`; `reached` resolves once it is held. Later runs pass straight through.
 * `runs()`: how many times the held transaction's function ran.
 */
function holdAfter(inner: Store) {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const released = new Promise<void>((r) => (release = r));
  let held = false;
  let runs = 0;
  let first = true;
  const store: Store = {
    ...inner,
    transact: (fn) => {
      const mine = first;
      first = false;
      return inner.transact((tx) => {
        if (mine) runs++;
        const gated = async (id: string) => {
          const result = await tx.getTask(id);
          if (!held) {
            held = true;
            reach();
            await released;
          }
          return result;
        };
        return fn({ ...tx, getTask: gated });
      });
    },
  };
  return { store, reached, release, runs: () => runs };
}
