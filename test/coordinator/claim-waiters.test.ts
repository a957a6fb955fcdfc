import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/coordinator/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { Store } from "../../src/store/types.js";

/** A memory store whose transactions are counted, and can be held at a gate. */
function countingStore() {
  const inner = createMemoryStore();
  const stats = { transactions: 0 };
  let gate: { from: number; opened: Promise<void> } | undefined;
  const store: Store = {
    ...inner,
    async transact(fn) {
      const ordinal = ++stats.transactions;
      if (gate && ordinal >= gate.from) await gate.opened;
      return inner.transact(fn);
    },
  };
  return {
    store,
    stats,
    /** Holds every transaction after the next `skip` ones until the returned function is called. */
    holdAfter(skip: number): () => void {
      let open!: () => void;
      gate = { from: stats.transactions + skip + 1, opened: new Promise((r) => (open = r)) };
      return () => {
        gate = undefined;
        open();
      };
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

/** Waits until `n` long polls wait on the coordinator (a condition, not a time). */
async function polling(coordinator: { longPolls: number }, n: number): Promise<void> {
  while (coordinator.longPolls < n) await new Promise((r) => setTimeout(r, 5));
}

describe("claim long polls (waiters)", () => {
  it("one new task wakes one claim transaction, not one per waiting node", async () => {
    const { store, stats } = countingStore();
    const coordinator = createCoordinator({ store });
    const regs: string[] = [];
    for (let i = 0; i < 200; i++) regs.push((await coordinator.nodes.register({ node_id: `n${i}`, labels: { slot: `s${i}` } })).registration_id);
    const polls = regs.map((registration_id) => coordinator.claimNext({ registration_id, worker_name: "w", wait_seconds: 30 }));
    await polling(coordinator, 200);

    const before = stats.transactions;
    const task = (await coordinator.tasks.create({ repo: "r", description: "only for s150", labels: { slot: "s150" } })).task;
    const claimed = await polls[150];
    expect(claimed?.id).toBe(task.id);
    await settle();
    // The create, and the one claim: the 199 waiters it does not fit cost a read each, no transaction.
    expect(stats.transactions - before).toBe(2);
    await coordinator.stop();
    expect(await Promise.all(polls.filter((_, i) => i !== 150))).toEqual(Array(199).fill(null));
  });

  it("a long poll begins with its own try only: no second look unless a task may have come since, and its labels are read once", async () => {
    const inner = createMemoryStore();
    const reads = { pending: 0, registration: 0 };
    const store: Store = {
      ...inner,
      listPending: (query) => (reads.pending++, inner.listPending(query)),
      getNodeByRegistration: (id) => (reads.registration++, inner.getNodeByRegistration(id)),
    };
    const coordinator = createCoordinator({ store });
    const { registration_id } = await coordinator.nodes.register({ node_id: "n1" });
    for (let round = 1; round <= 2; round++) {
      const ac = new AbortController();
      const poll = coordinator.claimNext({ registration_id, worker_name: "w", wait_seconds: 30 }, ac.signal);
      await polling(coordinator, 1);
      await settle();
      // Nothing was created since the first try (a transaction): the wait does not look again,
      // and the node's labels (fixed for a registration) were read on the first poll only.
      expect(reads).toEqual({ pending: 0, registration: 1 });
      ac.abort();
      expect(await poll).toBeNull();
    }
    // A task created meanwhile is still found at once.
    const poll = coordinator.claimNext({ registration_id, worker_name: "w", wait_seconds: 30 });
    const { task } = await coordinator.tasks.create({ repo: "r", description: "d" });
    expect((await poll)?.id).toBe(task.id);
    await coordinator.stop();
  });

  it("a burst of tasks is shared out among same-label waiters, each once", async () => {
    const { store, stats } = countingStore();
    const coordinator = createCoordinator({ store });
    const regs: string[] = [];
    for (let i = 0; i < 50; i++) regs.push((await coordinator.nodes.register({ node_id: `n${i}` })).registration_id);
    const polls = regs.map((registration_id) => coordinator.claimNext({ registration_id, worker_name: "w", wait_seconds: 30 }));
    await polling(coordinator, 50);
    const before = stats.transactions;
    const created = await Promise.all(Array.from({ length: 10 }, (_, i) => coordinator.tasks.create({ repo: "r", description: `t${i}` })));
    await settle();
    const claims = (await Promise.race([Promise.all(polls.slice(0, 10)), settle().then(() => [])])) as ({ id: string } | null)[];
    expect(claims.map((t) => t?.id).sort()).toEqual(created.map((c) => c.task.id).sort());
    // 10 creates and 10 claims; a pass stops once the burst is handed out.
    expect(stats.transactions - before).toBeLessThanOrEqual(22);
    await coordinator.stop();
  });

  it("a claim that goes through after its client left is undone, attempt included", async () => {
    const counting = countingStore();
    const coordinator = createCoordinator({ store: counting.store });
    const { registration_id } = await coordinator.nodes.register({ node_id: "gone" });
    const ac = new AbortController();
    const poll = coordinator.claimNext({ registration_id, worker_name: "w", wait_seconds: 30 }, ac.signal);
    await polling(coordinator, 1);
    const open = counting.holdAfter(1); // the create goes through, the claim it wakes waits
    const { task } = await coordinator.tasks.create({ repo: "r", description: "d" });
    await settle();
    ac.abort(); // the client leaves while its claim waits at the gate
    open();
    expect(await poll).toBeNull();
    await settle();
    const after = await counting.store.getTask(task.id);
    expect(after).toMatchObject({ status: "pending", attempts: 0, claimed_by: null, claimed_node: null });
    expect((await counting.store.getNode("gone"))!.claimed_tasks).toEqual([]);
    const released = (await coordinator.readEvents(0, 100)).events.filter((e) => e.type === "task.released");
    expect(released.map((e) => e.data)).toEqual([expect.objectContaining({ task_id: task.id, reason: "claimant disconnected", attempt_refunded: true })]);
    await coordinator.stop();
  });

  it("after shutdown began, a new long poll answers null at once", async () => {
    const coordinator = createCoordinator({ store: createMemoryStore() });
    const { registration_id } = await coordinator.nodes.register({ node_id: "late" });
    await coordinator.stop();
    const started = Date.now();
    expect(await coordinator.claimNext({ registration_id, worker_name: "w", wait_seconds: 30 })).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
