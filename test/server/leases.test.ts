/**
 * Liveness, leases and the task lifecycle over HTTP, with the coordinator's clock moved by the
 * test and sweeps run on demand.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import {
  allEvents,
  claim,
  claimNext,
  expectError,
  finish,
  getNode,
  getTask,
  heartbeat,
  lastEventId,
  makeClock,
  okData,
  type TestClock,
} from "../helpers/api-fixtures.js";

const OFFLINE_MS = 90_000;
const LEASE_MS = 300_000;

let server: TestServer;
let clock: TestClock;

beforeEach(async () => {
  clock = makeClock();
  server = await startTestServer({ clock: clock.now, offlineThresholdMs: OFFLINE_MS, claimTimeoutMs: LEASE_MS });
});
afterEach(async () => {
  await server.close();
});

async function eventsSince(id: number) {
  return allEvents(server, id);
}

describe("node liveness", () => {
  it("goes offline after offline_threshold without heartbeats (node.offline), online again on its next heartbeat (node.online)", async () => {
    const reg = await registerNode(server, "machine-c");
    const registeredAt = clock.iso();
    const mark = await lastEventId(server);

    clock.advance(OFFLINE_MS - 1000);
    await server.coordinator.sweep();
    expect((await getNode(server, "machine-c")).status).toBe("online");
    expect(await eventsSince(mark)).toEqual([]);

    clock.advance(1001);
    await server.coordinator.sweep();
    expect((await getNode(server, "machine-c")).status).toBe("offline");
    const offline = await eventsSince(mark);
    expect(offline.map((e) => e.type)).toEqual(["node.offline"]);
    expect(offline[0]!.data).toMatchObject({ node_id: "machine-c", last_seen: registeredAt });

    // A second sweep does not announce it again.
    clock.advance(10_000);
    await server.coordinator.sweep();
    expect(await eventsSince(mark)).toHaveLength(1);

    const hb = okData(await heartbeat(server, reg));
    expect(hb.status).toBe("online");
    const node = await getNode(server, "machine-c");
    expect(node.status).toBe("online");
    expect(node.last_seen).toBe(clock.iso());
    const after = await eventsSince(offline[0]!.id);
    expect(after.map((e) => e.type)).toEqual(["node.online"]);
    expect(after[0]!.data).toMatchObject({ node_id: "machine-c", ts: clock.iso() });

    // Heartbeats of an online node announce nothing.
    okData(await heartbeat(server, reg));
    expect(await eventsSince(after[0]!.id)).toEqual([]);
  });

  it("heartbeats keep a node online", async () => {
    const reg = await registerNode(server, "steady");
    for (let i = 0; i < 5; i++) {
      clock.advance(30_000);
      okData(await heartbeat(server, reg));
      await server.coordinator.sweep();
    }
    expect((await getNode(server, "steady")).status).toBe("online");
    expect((await allEvents(server)).filter((e) => e.type === "node.offline")).toEqual([]);
  });

  it("health (the node's report) is kept apart from status (liveness)", async () => {
    const reg = await registerNode(server, "reporter");
    okData(await heartbeat(server, reg, { status: "degraded" }));
    expect(await getNode(server, "reporter")).toMatchObject({ status: "online", health: "degraded" });
    clock.advance(OFFLINE_MS + 1);
    await server.coordinator.sweep();
    expect(await getNode(server, "reporter")).toMatchObject({ status: "offline", health: "degraded" });
    const offline = okData(await server.api("GET", "/nodes?status=offline", { token: TOKENS.read })).nodes as any[];
    expect(offline.map((n) => n.id)).toEqual(["reporter"]);
  });
});

describe("leases", () => {
  it("a silent node's task goes orphaned after the lease (task.orphaned) and another node claims it", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    const task = await createTask(server, {});
    const claimed = okData(await claim(server, task.id, regA, "worker-1"));
    expect(Date.parse(claimed.lease_expires_at)).toBe(clock.now() + LEASE_MS);
    const mark = await lastEventId(server);

    clock.advance(LEASE_MS - 1);
    okData(await heartbeat(server, regB));
    await server.coordinator.sweep();
    expect((await getTask(server, task.id)).status).toBe("claimed");

    clock.advance(1);
    okData(await heartbeat(server, regB));
    await server.coordinator.sweep();
    const orphaned = await getTask(server, task.id);
    expect(orphaned).toMatchObject({ status: "orphaned", lease_expires_at: null, attempts: 1 });
    const events = (await eventsSince(mark)).filter((e) => e.type.startsWith("task."));
    expect(events.map((e) => e.type)).toEqual(["task.orphaned"]);
    expect(events[0]!.data).toMatchObject({ task_id: task.id, repo: "my-repo", status: "orphaned", node_id: "machine-a" });
    expect((await getNode(server, "machine-a")).claimed_tasks).toEqual([]);

    // Orphaned tasks are listed as claimable and counted as pending.
    const pending = okData(await server.api("GET", "/tasks/pending", { token: TOKENS.read })).tasks as any[];
    expect(pending.map((t) => t.id)).toEqual([task.id]);
    expect(okData(await server.api("GET", "/state/my-repo", { token: TOKENS.read })).pending_tasks).toBe(1);

    const reclaimed = okData(await claimNext(server, regB, { worker: "worker-9" })).task;
    expect(reclaimed).toMatchObject({ id: task.id, status: "claimed", claimed_by: "worker-9@machine-b", attempts: 2 });

    // The old claimant may no longer finish it.
    expectError(await finish(server, "complete", task.id, regA), 403, "NOT_CLAIMANT");
    okData(await finish(server, "complete", task.id, regB, { pr: "#7" }));
  });

  it("every heartbeat renews the leases of all the node's tasks", async () => {
    const reg = await registerNode(server, "worker-node", { maxWorkers: 3 });
    const tasks = [await createTask(server, {}), await createTask(server, {})];
    for (const t of tasks) okData(await claim(server, t.id, reg));
    for (let i = 0; i < 4; i++) {
      clock.advance(LEASE_MS / 2);
      okData(await heartbeat(server, reg));
      await server.coordinator.sweep();
    }
    // 2 leases' worth of time has passed; the heartbeats kept them.
    for (const t of tasks) {
      const now = await getTask(server, t.id);
      expect(now.status).toBe("claimed");
      expect(Date.parse(now.lease_expires_at)).toBe(clock.now() + LEASE_MS);
    }
    clock.advance(LEASE_MS);
    await server.coordinator.sweep();
    for (const t of tasks) expect((await getTask(server, t.id)).status).toBe("orphaned");
  });

  it("the last claimant may still complete an orphaned task nobody took again", async () => {
    const reg = await registerNode(server, "slow");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, reg));
    clock.advance(LEASE_MS);
    await server.coordinator.sweep();
    expect((await getTask(server, t.id)).status).toBe("orphaned");
    expect(okData(await finish(server, "complete", t.id, reg, { pr: "#3" })).status).toBe("completed");
  });

  it("max_attempts: the task that keeps losing its lease ends failed (task.failed, final)", async () => {
    const regs = [await registerNode(server, "n1"), await registerNode(server, "n2")];
    const t = await createTask(server, { max_attempts: 2 });
    okData(await claim(server, t.id, regs[0]!));
    clock.advance(LEASE_MS);
    await server.coordinator.sweep();
    expect((await getTask(server, t.id)).status).toBe("orphaned");

    okData(await heartbeat(server, regs[1]!));
    okData(await claim(server, t.id, regs[1]!));
    const mark = await lastEventId(server);
    clock.advance(LEASE_MS);
    await server.coordinator.sweep();
    const failed = await getTask(server, t.id);
    expect(failed).toMatchObject({ status: "failed", attempts: 2, failure_reason: "lease expired" });
    const events = (await eventsSince(mark)).filter((e) => e.type.startsWith("task."));
    expect(events.map((e) => e.type)).toEqual(["task.failed"]);
    expect(events[0]!.data).toMatchObject({ task_id: t.id, status: "failed", final: true });
    okData(await heartbeat(server, regs[0]!));
    expectError(await claim(server, t.id, regs[0]!), 409, "TASK_NOT_CLAIMABLE");
  });

  it("default max_attempts is 3", async () => {
    const t = await createTask(server, {});
    expect(t.max_attempts).toBe(3);
  });
});

describe("finishing tasks", () => {
  it("fail with retry waits out tasks.retry_backoff, then is pending again (task.failed, final false); without retry it is failed", async () => {
    const reg = await registerNode(server, "machine-b");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, reg));
    const retried = okData(await finish(server, "fail", t.id, reg, { reason: "flaky test" }));
    const due = new Date(clock.now() + 30_000).toISOString();
    expect(retried).toMatchObject({ status: "waiting", not_before: due, failure_reason: "flaky test", lease_expires_at: null });
    expect((await getNode(server, "machine-b")).claimed_tasks).toEqual([]);
    expect((await claim(server, t.id, reg)).body).toMatchObject({ code: "TASK_NOT_CLAIMABLE", details: { status: "waiting" } });
    clock.advance(30_000);
    await server.coordinator.sweep();

    okData(await claim(server, t.id, reg));
    const final = okData(await finish(server, "fail", t.id, reg, { reason: "cannot be done", retry: false }));
    expect(final).toMatchObject({ status: "failed", failure_reason: "cannot be done", attempts: 2 });
    expect(final.completed_at).toBe(clock.iso());

    const failedEvents = (await allEvents(server)).filter((e) => e.type === "task.failed");
    expect(failedEvents.map((e) => [e.data.status, e.data.final, e.data.reason])).toEqual([
      ["waiting", false, "flaky test"],
      ["failed", true, "cannot be done"],
    ]);
  });

  it("fail with retry on the last allowed attempt is final", async () => {
    const reg = await registerNode(server, "machine-b");
    const t = await createTask(server, { max_attempts: 1 });
    okData(await claim(server, t.id, reg));
    expect(okData(await finish(server, "fail", t.id, reg, { reason: "again", retry: true })).status).toBe("failed");
  });

  it("release puts the task back to pending (task.released) and keeps its attempt count", async () => {
    const reg = await registerNode(server, "machine-b", { maxWorkers: 1 });
    const t = await createTask(server, {});
    okData(await claim(server, t.id, reg));
    const released = okData(await finish(server, "release", t.id, reg, { reason: "shutting down" }));
    expect(released).toMatchObject({ status: "pending", attempts: 1, lease_expires_at: null });
    const ev = (await allEvents(server)).filter((e) => e.type === "task.released");
    expect(ev).toHaveLength(1);
    expect(ev[0]!.data).toMatchObject({ task_id: t.id, reason: "shutting down", node_id: "machine-b" });
    expect(released.cooldown).toMatchObject({ node_id: "machine-b" });
    // The slot is free again; the next claim of this node passes over the task it gave back
    // (another node could take it at once).
    const next = await createTask(server, {});
    expect(okData(await claimNext(server, reg)).task.id).toBe(next.id);
  });

  it("complete records pr and summary and announces them", async () => {
    const reg = await registerNode(server, "machine-b");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, reg, "worker-1"));
    const done = okData(await finish(server, "complete", t.id, reg, { pr: "https://github.com/o/r/pull/42", summary: "did it" }));
    expect(done).toMatchObject({ status: "completed", result: { pr: "https://github.com/o/r/pull/42", summary: "did it" } });
    const ev = (await allEvents(server)).find((e) => e.type === "task.completed")!;
    expect(ev.data).toMatchObject({ task_id: t.id, worker: "worker-1", pr: "https://github.com/o/r/pull/42" });
    expectError(await finish(server, "complete", t.id, reg), 409, "TASK_NOT_CLAIMABLE");
  });

  it("only the claimant may complete, fail or release (403 NOT_CLAIMANT); nothing changes", async () => {
    const owner = await registerNode(server, "owner");
    const other = await registerNode(server, "other");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, owner, "worker-1"));
    const mark = await lastEventId(server);
    for (const [action, extra] of [
      ["complete", { pr: "#1" }],
      ["fail", { reason: "x" }],
      ["release", {}],
    ] as const) {
      const details = expectError(await finish(server, action, t.id, other, extra), 403, "NOT_CLAIMANT");
      expect(details).toMatchObject({ task_id: t.id, claimed_by: "worker-1@owner" });
    }
    expect(await lastEventId(server)).toBe(mark);
    expect((await getTask(server, t.id)).status).toBe("claimed");
    // A pending task has no claimant at all.
    const p = await createTask(server, {});
    expectError(await finish(server, "complete", p.id, owner), 409, "TASK_NOT_CLAIMABLE");
  });
});

describe("cancel", () => {
  it("is admin only; a claimed task's id reaches its node once, in the next heartbeat response", async () => {
    const reg = await registerNode(server, "machine-b");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, reg));

    expectError(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.node, body: {} }), 403, "FORBIDDEN");
    expectError(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.read }), 403, "FORBIDDEN");
    expect((await getTask(server, t.id)).status).toBe("claimed");

    const cancelled = okData(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.admin, body: { reason: "superseded" } }));
    expect(cancelled).toMatchObject({ status: "cancelled", cancel_reason: "superseded" });
    const ev = (await allEvents(server)).find((e) => e.type === "task.cancelled")!;
    expect(ev.data).toMatchObject({ task_id: t.id, reason: "superseded", node_id: "machine-b" });
    expect((await getNode(server, "machine-b")).claimed_tasks).toEqual([]);

    expect(okData(await heartbeat(server, reg)).cancelled_task_ids).toEqual([t.id]);
    // Repeated (a lost answer must not hide it) until the claim timeout has passed.
    expect(okData(await heartbeat(server, reg)).cancelled_task_ids).toEqual([t.id]);
    clock.advance(LEASE_MS);
    expect(okData(await heartbeat(server, reg)).cancelled_task_ids).toEqual([]);
    // The node can no longer finish it.
    expectError(await finish(server, "complete", t.id, reg), 409, "TASK_NOT_CLAIMABLE");
  });

  it("cancelling an orphaned task tells its last claimant, who may still be working on it", async () => {
    const reg = await registerNode(server, "slow-node");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, reg));
    clock.advance(LEASE_MS);
    await server.coordinator.sweep();
    expect((await getTask(server, t.id)).status).toBe("orphaned");

    okData(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.admin, body: { reason: "superseded" } }));
    const ev = (await allEvents(server)).find((e) => e.type === "task.cancelled")!;
    expect(ev.data).toMatchObject({ task_id: t.id, node_id: "slow-node" });
    expect(okData(await heartbeat(server, reg)).cancelled_task_ids).toEqual([t.id]);
    clock.advance(LEASE_MS);
    expect(okData(await heartbeat(server, reg)).cancelled_task_ids).toEqual([]);
  });

  it("cancelling a task another node took over does not tell its earlier claimant", async () => {
    const regA = await registerNode(server, "first");
    const regB = await registerNode(server, "second");
    const t = await createTask(server, {});
    okData(await claim(server, t.id, regA));
    clock.advance(LEASE_MS);
    okData(await heartbeat(server, regB));
    await server.coordinator.sweep();
    okData(await claim(server, t.id, regB));
    okData(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.admin }));
    expect(okData(await heartbeat(server, regA)).cancelled_task_ids).toEqual([]);
    expect(okData(await heartbeat(server, regB)).cancelled_task_ids).toEqual([t.id]);
  });

  it("cancels a pending task without a body; a finished task cannot be cancelled", async () => {
    const t = await createTask(server, {});
    expect(okData(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.admin })).status).toBe("cancelled");
    expectError(await server.api("POST", `/tasks/${t.id}/cancel`, { token: TOKENS.admin }), 409, "TASK_NOT_CLAIMABLE");
    expectError(await server.api("POST", `/tasks/task-nope/cancel`, { token: TOKENS.admin }), 404, "TASK_NOT_FOUND");
  });
});

describe("registration", () => {
  it("deregister releases the node's claims to pending and the registration stops working", async () => {
    const reg = await registerNode(server, "leaving", { maxWorkers: 3 });
    const [a, b] = [await createTask(server, {}), await createTask(server, {})];
    okData(await claim(server, a.id, reg));
    okData(await claim(server, b.id, reg));
    const data = okData(await server.api("POST", "/deregister", { token: TOKENS.node, body: { registration_id: reg } }));
    expect(data.node_id).toBe("leaving");
    expect([...data.released_tasks].sort()).toEqual([a.id, b.id].sort());
    for (const t of [a, b]) expect((await getTask(server, t.id)).status).toBe("pending");
    expect(await getNode(server, "leaving")).toMatchObject({ status: "deregistered", claimed_tasks: [] });
    const types = (await allEvents(server)).map((e) => e.type);
    expect(types.slice(-3)).toEqual(["task.released", "task.released", "node.deregistered"]);

    expectError(await heartbeat(server, reg), 404, "REGISTRATION_NOT_FOUND");
    expectError(await server.api("POST", "/deregister", { token: TOKENS.node, body: { registration_id: reg } }), 404, "REGISTRATION_NOT_FOUND");
    // It does not go "offline" later either.
    clock.advance(OFFLINE_MS * 2);
    await server.coordinator.sweep();
    expect((await getNode(server, "leaving")).status).toBe("deregistered");
  });

  it("re-register gives a new registration id; the old one answers 404 REGISTRATION_NOT_FOUND; claims stay with the node", async () => {
    const old = await registerNode(server, "restarter", { maxWorkers: 2 });
    const t = await createTask(server, {});
    okData(await claim(server, t.id, old, "worker-1"));
    clock.advance(LEASE_MS - 1000);

    const fresh = await registerNode(server, "restarter", { maxWorkers: 2 });
    expect(fresh).not.toBe(old);
    for (const res of [
      await heartbeat(server, old),
      await claim(server, t.id, old),
      await claimNext(server, old),
      await finish(server, "complete", t.id, old),
      await server.api("POST", "/deregister", { token: TOKENS.node, body: { registration_id: old } }),
    ]) {
      expectError(res, 404, "REGISTRATION_NOT_FOUND");
    }

    expect((await getNode(server, "restarter")).claimed_tasks).toEqual([t.id]);
    // The restart counted as a sign of life: the lease did not run out.
    clock.advance(2000);
    await server.coordinator.sweep();
    expect((await getTask(server, t.id)).status).toBe("claimed");
    expect(okData(await finish(server, "complete", t.id, fresh, { pr: "#5" })).status).toBe("completed");
  });
});
