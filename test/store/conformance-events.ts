import { expect, it } from "vitest";
import type { CoordEvent } from "../../src/core/types.js";
import { eventually, expectCode, makeHarness, typesOf, type Harness, type MakeStore } from "./conformance-harness.js";

/** DESIGN §4 Events, Messages and State sync. */
export function eventSpecs(h: () => Harness, makeStore: MakeStore): void {
  it("appends one event per transition with strictly increasing ids, delivered in order", async () => {
    const { createTask, register, coord, store } = h();
    const seen: CoordEvent[] = [];
    const off = store.onEvents((batch) => seen.push(...batch));
    const reg = await register("n1");
    const task = await createTask();
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(task.id, { registration_id: reg, pr: "#1" });
    await coord.nodes.heartbeat({ registration_id: reg, agents: [{ name: "w", type: "worker", status: "running", repo: "acme/app" }] });
    const log = await h().allEvents();
    expect(typesOf(log)).toEqual(["node.registered", "task.created", "task.claimed", "task.completed", "agent.spawned"]);
    for (let i = 1; i < log.length; i++) expect(log[i]!.id).toBeGreaterThan(log[i - 1]!.id);
    for (const e of log) expect(typeof e.data.ts).toBe("string");
    expect(log[2]!.data).toMatchObject({ task_id: task.id, node_id: "n1", claimed_by: "w@n1" });
    await eventually(() => expect(seen).toEqual(log));
    off();
    await createTask();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(log.length);
    expect(await store.eventBounds()).toEqual({ oldest_id: log[0]!.id, last_id: log[log.length - 1]!.id + 1 });
  });

  it("resumes reading after any id and writes nothing (no event) when a transaction throws", async () => {
    const { createTask, coord, store } = h();
    for (let i = 0; i < 6; i++) await createTask();
    const all = await h().allEvents();
    expect(await store.readEvents(all[2]!.id, 2)).toEqual(all.slice(3, 5));
    expect(await store.readEvents(all[5]!.id, 10)).toEqual([]);
    const before = await store.eventBounds();
    await expectCode(coord.tasks.claim(all[0]!.data.task_id as string, { registration_id: "reg-nope", worker_name: "w" }), "REGISTRATION_NOT_FOUND");
    await expect(
      store.transact(async (tx) => {
        tx.emit({ type: "task.created", data: { ts: new Date().toISOString() } });
        tx.putRepo({ name: "ghost", active_prs: 1, reported_by: "x", updated_at: new Date().toISOString() });
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.eventBounds()).toEqual(before);
    expect(await store.getRepo("ghost")).toBeUndefined();
  });

  it("keeps the last `retention` events, trims older ones and never reuses an id", async () => {
    const store = await makeStore({ retention: 10 });
    try {
      const clock = { t: Date.parse("2030-06-01T00:00:00Z") };
      const { createTask } = makeHarness(store, clock);
      for (let i = 0; i < 150; i++) await createTask();
      const bounds = await store.eventBounds();
      expect(bounds.last_id).toBeGreaterThanOrEqual(150);
      expect(bounds.oldest_id).toBeGreaterThan(1);
      expect(bounds.oldest_id).toBeLessThanOrEqual(bounds.last_id - 9);
      const tail = await store.readEvents(bounds.last_id - 10, 100);
      expect(tail.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => bounds.last_id - 9 + i));
      const fromStart = await store.readEvents(0, 1000);
      expect(fromStart[0]!.id).toBe(bounds.oldest_id);
      await createTask();
      expect((await store.eventBounds()).last_id).toBe(bounds.last_id + 1);
    } finally {
      await store.close();
    }
  });

  it("stores messages until acked; pending counts and filters follow", async () => {
    const { register, coord, store } = h();
    const reg = await register("n1");
    await register("n2");
    await coord.nodes.heartbeat({ registration_id: reg, repos: [{ name: "acme/app", active_prs: 0 }], agents: [{ name: "supervisor", type: "supervisor", status: "idle" }] });
    const m1 = await coord.messages.send({ from: "lead@n2", to: "w1@n1", body: "hello" });
    const m2 = await coord.messages.send({ from: "lead@n2", to: "supervisor", repo: "acme/app", body: "status?" });
    await coord.messages.send({ from: "lead@n1", to: "w1@n2", body: "other node" });
    expect(m2).toMatchObject({ to: "supervisor@n1", to_node: "n1" });
    expect(await store.countPendingMessages("n1")).toBe(2);
    expect((await coord.nodes.heartbeat({ registration_id: reg })).pending_messages).toBe(2);
    expect((await store.listMessages({ to_node: "n1", status: "pending", limit: 10 })).map((m) => m.id)).toEqual([m1.id, m2.id]);
    expect((await store.listMessages({ to: "w1@n1", limit: 10 })).map((m) => m.id)).toEqual([m1.id]);
    expect(await store.listMessages({ limit: 10 })).toHaveLength(3);

    await coord.messages.ack(m1.id, reg);
    const again = await coord.messages.ack(m1.id);
    expect(again).toMatchObject({ status: "acked" });
    expect(await store.getMessage(m1.id)).toEqual(again);
    expect(await store.countPendingMessages("n1")).toBe(1);
    expect((await store.listMessages({ to_node: "n1", status: "acked", limit: 10 })).map((m) => m.id)).toEqual([m1.id]);
    expect((await store.listMessages({ to_node: "n1", limit: 10 })).map((m) => m.id)).toEqual([m1.id, m2.id]);
    expect((await h().allEvents()).filter((e) => e.type === "message.acked")).toHaveLength(1);
    await expectCode(coord.messages.ack("msg-missing"), "NOT_FOUND");
    await expectCode(coord.messages.send({ from: "x", to: "reviewer", repo: "acme/app", body: "?" }), "AGENT_NOT_FOUND");
  });

  it("builds repo state from heartbeats: agents, pending + orphaned count, active_prs summed over each node's latest report", async () => {
    const { register, coord, createTask, advance } = h();
    const a = await register("a");
    const b = await register("b");
    const agents = [{ name: "supervisor", type: "supervisor", status: "idle", repo: "acme/app" }];
    await coord.nodes.heartbeat({ registration_id: a, agents, repos: [{ name: "acme/app", active_prs: 2 }] });
    await coord.nodes.heartbeat({ registration_id: b, agents: [{ name: "w1", type: "worker", status: "busy", repo: "acme/app", task: "x" }], repos: [{ name: "acme/app", active_prs: 5 }] });
    const t = await createTask();
    await createTask();
    await createTask({ repo: "acme/other" });
    await coord.tasks.claim(t.id, { registration_id: a, worker_name: "supervisor" });
    advance(60_000);
    await coord.nodes.heartbeat({ registration_id: b });
    await coord.sweep(); // a's lease ran out: orphaned still counts as pending
    const state = await coord.nodes.state("acme/app");
    expect(Object.keys(state.agents).sort()).toEqual(["supervisor@a", "w1@b"]);
    expect(state.agents["w1@b"]).toEqual({ name: "w1", node: "b", type: "worker", status: "busy", task: "x" });
    expect(state.pending_tasks).toBe(2);
    expect(state.active_prs).toBe(7); // a's 2 + b's 5
    expect(state.known).toBe(true);
    expect((await coord.nodes.state("acme/none")).known).toBe(false);
    expect(await h().store.getRepo("acme/app")).toMatchObject({ active_prs: 5, reported_by: "b" });
    expect(await h().store.getRepo("acme/none")).toBeUndefined();
  });
}
