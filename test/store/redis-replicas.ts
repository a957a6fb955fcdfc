import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { CoordEvent, Task } from "../../src/core/types.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { ClaimNextRequest, Store } from "../../src/store/types.js";
import { CLAIM_TIMEOUT_MS, eventually, makeHarness, typesOf, type Harness } from "./conformance-harness.js";

/** Two coordinator replicas, each with its own store instance, sharing one Redis and one clock. */
export function replicaSpecs(url: () => string, nextPrefix: () => string): void {
  describe("two replicas on one redis-server", () => {
    let stores: Store[] = [];
    let a: Harness;
    let b: Harness;
    let keyPrefix = "";

    async function open(): Promise<void> {
      keyPrefix = nextPrefix();
      const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
      stores = [await createRedisStore(url(), { keyPrefix }), await createRedisStore(url(), { keyPrefix })];
      a = makeHarness(stores[0]!, clock);
      b = makeHarness(stores[1]!, clock);
    }

    afterEach(async () => {
      await Promise.all([a?.coord.stop(), b?.coord.stop()]);
      await Promise.all(stores.map((s) => s.close()));
    });

    it("lets exactly one of many concurrent claims through both replicas win", async () => {
      await open();
      const task = await a.createTask();
      const regs: string[] = [];
      for (let i = 0; i < 6; i++) regs.push(await (i % 2 ? b : a).register(`node-${i}`, { maxWorkers: 10 }));
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) =>
          (i % 2 ? b : a).coord.tasks.claim(task.id, { registration_id: regs[i % 6]!, worker_name: `w${i}` }),
        ),
      );
      const won = results.filter((r): r is PromiseFulfilledResult<Task> => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "TASK_CLAIMED" });
      expect((await b.store.getTask(task.id))!.claimed_by).toBe(won[0]!.value.claimed_by);
      expect((await a.allEvents()).filter((e) => e.type === "task.claimed")).toHaveLength(1);
    });

    it("claim-next through both replicas (the Lua claim) hands each task to one node, never past capacity", async () => {
      await open();
      let scripted = 0;
      // Count the one-step claims, so the race below is known to run on the Lua path.
      const counted = stores.map((s) => ({ ...s, claimNext: (r: ClaimNextRequest) => (scripted++, s.claimNext!(r)) }));
      const clock = { t: a.now() };
      const [ca, cb] = counted.map((s) => makeHarness(s, clock));
      try {
        for (let i = 0; i < 30; i++) await (i % 2 ? a : b).createTask({ priority: i % 3 ? "medium" : "high" });
        const regs: string[] = [];
        for (let n = 0; n < 8; n++) regs.push(await (n % 2 ? b : a).register(`pool-${n}`, { maxWorkers: 3 }));
        const results = await Promise.allSettled(
          Array.from({ length: 60 }, (_, i) => (i % 2 ? cb! : ca!).coord.claimNext({ registration_id: regs[i % 8]!, worker_name: `w${i}` })),
        );
        const claimed = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value] : []));
        for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "NODE_AT_CAPACITY" });
        expect(claimed).toHaveLength(24);
        expect(new Set(claimed.map((t) => t.id)).size).toBe(24);
        const nodes = await a.store.listNodes({});
        for (const n of nodes) expect(n.claimed_tasks.length).toBeLessThanOrEqual(3);
        expect(nodes.flatMap((n) => n.claimed_tasks).sort()).toEqual(claimed.map((t) => t.id).sort());
        expect((await a.allEvents()).filter((e) => e.type === "task.claimed")).toHaveLength(24);
        expect(await b.store.countPending()).toBe(6);
        expect(scripted).toBeGreaterThanOrEqual(60);
      } finally {
        await Promise.all([ca?.coord.stop(), cb?.coord.stop()]);
      }
    });

    it("two replicas sweeping at once purge each record once and forget a node once", async () => {
      await open();
      const reg = await a.register("gone");
      for (let i = 0; i < 30; i++) await (i % 2 ? b : a).coord.tasks.cancel((await a.createTask()).id, null);
      for (let i = 0; i < 5; i++) {
        const m = await b.coord.messages.send({ from: "lead@hq", to: "w@gone", body: `m${i}` });
        await a.coord.messages.ack(m.id, reg);
      }
      await a.coord.nodes.deregister(reg);
      a.advance(31 * 86_400_000);
      // (One sweep at a time per replica: a second call while one runs shares its result.)
      const results = await Promise.all([a.coord.sweep(), b.coord.sweep()]);
      results.push(...(await Promise.all([a.coord.sweep(), b.coord.sweep()])));
      expect(results.reduce((n, r) => n + r.purged_tasks, 0)).toBe(30);
      expect(results.reduce((n, r) => n + r.purged_messages, 0)).toBe(5);
      expect(results.flatMap((r) => r.forgotten)).toEqual(["gone"]);
      expect((await a.allEvents()).filter((e) => e.type === "node.forgotten")).toHaveLength(1);
      expect(await b.store.counts()).toMatchObject({ nodes: { online: 0, offline: 0, deregistered: 0 }, tasks: { cancelled: 0 } });
      expect((await b.store.listTasks({ limit: 100 })).tasks).toEqual([]);
      expect(await b.store.listMessages({ limit: 100 })).toEqual([]);
    });

    it("keeps capacity and idempotency keys across replicas", async () => {
      await open();
      for (let i = 0; i < 10; i++) await (i % 2 ? a : b).createTask();
      const reg = await a.register("small", { maxWorkers: 3 });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).coord.claimNext({ registration_id: reg, worker_name: `w${i}` })),
      );
      const claimed = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value.id] : []));
      expect(new Set(claimed).size).toBe(3);
      expect(claimed).toHaveLength(3);
      expect((await b.store.getNode("small"))!.claimed_tasks.sort()).toEqual(claimed.sort());
      const input = { repo: "acme/app", description: "once", idempotency_key: "k-1" };
      const made = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).coord.tasks.create(input)));
      expect(new Set(made.map((m) => m.task.id)).size).toBe(1);
      expect(made.filter((m) => m.created)).toHaveLength(1);
    });

    it("re-runs a transaction whose reads another replica changed, and gives up with UNAVAILABLE", async () => {
      await open();
      const task = await a.createTask();
      let runs = 0;
      // Replica B changes the task between A's read and A's commit, on A's first run only.
      const description = await a.store.transact(async (tx) => {
        const t = (await tx.getTask(task.id))!;
        if (++runs === 1) await b.store.transact(async (btx) => btx.putTask({ ...t, description: "changed by b" }));
        tx.putTask({ ...t, description: `${t.description} + a` });
        return t.description;
      });
      expect(runs).toBe(2);
      expect(description).toBe("changed by b");
      expect((await b.store.getTask(task.id))!.description).toBe("changed by b + a");

      const impatient = await createRedisStore(url(), { keyPrefix, maxAttempts: 3 });
      stores.push(impatient);
      let attempts = 0;
      const err = await impatient
        .transact(async (tx) => {
          const t = (await tx.getTask(task.id))!;
          attempts++;
          await b.store.transact(async (btx) => btx.putTask({ ...t, updated_at: new Date(attempts).toISOString() }));
          tx.putTask(t);
        })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "UNAVAILABLE" });
      expect(attempts).toBe(3);
    });

    it("delivers the other replica's events to onEvents in id order, exactly once", async () => {
      await open();
      const seenA: CoordEvent[] = [];
      const seenB: CoordEvent[] = [];
      a.store.onEvents((batch) => seenA.push(...batch));
      b.store.onEvents((batch) => seenB.push(...batch));
      await Promise.all(Array.from({ length: 40 }, (_, i) => ((i % 2 ? b : a).createTask({ description: `t${i}` }))));
      await b.register("n-b");
      const log = await a.allEvents();
      expect(log).toHaveLength(41);
      await eventually(() => {
        expect(seenA).toEqual(log);
        expect(seenB).toEqual(log);
      });
    });

    it("fills from the stored log what pub/sub missed while the subscription was down", async () => {
      await open();
      const seenA: CoordEvent[] = [];
      a.store.onEvents((batch) => seenA.push(...batch));
      await a.createTask();
      const admin = new Redis(url());
      try {
        // Drop every subscriber connection: the events below are published to nobody.
        await admin.client("KILL", "TYPE", "pubsub");
        for (let i = 0; i < 5; i++) await b.createTask();
      } finally {
        admin.disconnect();
      }
      const log = await b.allEvents();
      expect(log).toHaveLength(6);
      await eventually(() => expect(seenA).toEqual(log), 8000);
      // And live delivery carries on after the reconnect, still in order and without repeats.
      await b.createTask();
      await eventually(async () => expect(seenA).toEqual(await b.allEvents()));
    });

    it("moves each expired lease exactly once when both replicas sweep at the same time", async () => {
      await open();
      const reg = await a.register("n1", { maxWorkers: 10 });
      const claimed: string[] = [];
      for (let i = 0; i < 8; i++) {
        const t = await (i % 2 ? a : b).createTask();
        await a.coord.tasks.claim(t.id, { registration_id: reg, worker_name: `w${i}` });
        claimed.push(t.id);
      }
      a.advance(CLAIM_TIMEOUT_MS + 1);
      const [ra, rb] = await Promise.all([a.coord.sweep(), b.coord.sweep()]);
      expect([...ra.expired, ...rb.expired].sort()).toEqual([...claimed].sort());
      const orphanedEvents = (await b.allEvents()).filter((e) => e.type === "task.orphaned");
      expect(orphanedEvents.map((e) => e.data.task_id).sort()).toEqual([...claimed].sort());
      expect((await a.store.getNode("n1"))!.claimed_tasks).toEqual([]);
      expect(await b.store.countPending()).toBe(8);
      expect(typesOf((await a.coord.readEvents(0, 1000)).events).filter((t) => t === "task.orphaned")).toHaveLength(8);
    });
  });
}
