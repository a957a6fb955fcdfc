/**
 * DESIGN §11 over HTTP: cordoning a node and retrying a task, as an admin does it (the rules
 * themselves run on every store in test/store/conformance-workflow.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { allEvents, claim, claimNext, expectError, finish, getNode, getTask, heartbeat, okData } from "../helpers/api-fixtures.js";

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

const admin = (path: string) => server.api("POST", path, { token: TOKENS.admin });

describe("POST /nodes/{id}/cordon and /uncordon", () => {
  it("takes a node out of rotation without touching its claims, and back", async () => {
    const reg = await registerNode(server, "machine-b");
    expect(await getNode(server, "machine-b")).toMatchObject({ cordoned: false });
    const held = await createTask(server, {});
    okData(await claim(server, held.id, reg));

    expect(okData(await admin("/nodes/machine-b/cordon"))).toMatchObject({ id: "machine-b", cordoned: true, claimed_tasks: [held.id] });
    expect(okData(await heartbeat(server, reg))).toMatchObject({ status: "online", cordoned: true });
    expect((await getNode(server, "machine-b")).cordoned).toBe(true);
    expect(okData(await server.api("GET", "/nodes", { token: TOKENS.read })).nodes[0].cordoned).toBe(true);

    const next = await createTask(server, {});
    expect(expectError(await claim(server, next.id, reg, "worker-2"), 409, "NODE_CORDONED")).toMatchObject({ node_id: "machine-b" });
    expectError(await claimNext(server, reg, { worker: "worker-2" }), 409, "NODE_CORDONED");
    okData(await finish(server, "complete", held.id, reg, { pr: "#7" }));

    expect(okData(await admin("/nodes/machine-b/uncordon")).cordoned).toBe(false);
    expect(okData(await heartbeat(server, reg)).cordoned).toBe(false);
    expect(okData(await claimNext(server, reg, { worker: "worker-2" })).task.id).toBe(next.id);
    const events = (await allEvents(server)).filter((e) => e.type.startsWith("node.") && e.type.includes("cordon"));
    expect(events.map((e) => e.type)).toEqual(["node.cordoned", "node.uncordoned"]);
  });

  it("is for admins only, and answers 404 NODE_NOT_FOUND for an unknown node", async () => {
    await registerNode(server, "machine-b");
    expectError(await server.api("POST", "/nodes/machine-b/cordon", { token: TOKENS.node }), 403, "FORBIDDEN");
    expectError(await server.api("POST", "/nodes/machine-b/uncordon", { token: TOKENS.read }), 403, "FORBIDDEN");
    expect((await getNode(server, "machine-b")).cordoned).toBe(false);
    expectError(await admin("/nodes/ghost/cordon"), 404, "NODE_NOT_FOUND");
  });
});

describe("POST /tasks/{id}/retry", () => {
  it("runs a task that failed for good again from the start", async () => {
    const reg = await registerNode(server, "machine-b");
    const t = await createTask(server, { max_attempts: 1 });
    okData(await claim(server, t.id, reg));
    expect(okData(await finish(server, "fail", t.id, reg, { reason: "tests red", retry: false })).status).toBe("failed");

    const retried = okData(await admin(`/tasks/${t.id}/retry`));
    expect(retried).toMatchObject({ id: t.id, status: "pending", attempts: 0, failure_reason: null, completed_at: null, claimed_by: null });
    expect(await getTask(server, t.id)).toEqual(retried);
    expect(okData(await server.api("GET", "/tasks/pending", { token: TOKENS.read })).tasks.map((x: { id: string }) => x.id)).toEqual([t.id]);
    const [event] = (await allEvents(server)).filter((e) => e.type === "task.retried");
    expect(event!.data).toMatchObject({ task_id: t.id, from: "failed", status: "pending" });
  });

  it("is for admins only; 409 TASK_NOT_RETRYABLE for a task that did not fail or was not cancelled; 404 for an unknown one", async () => {
    const t = await createTask(server, {});
    expectError(await server.api("POST", `/tasks/${t.id}/retry`, { token: TOKENS.node }), 403, "FORBIDDEN");
    expect(expectError(await admin(`/tasks/${t.id}/retry`), 409, "TASK_NOT_RETRYABLE")).toMatchObject({ task_id: t.id, status: "pending" });
    expectError(await admin("/tasks/task-ghost/retry"), 404, "TASK_NOT_FOUND");
  });
});

describe("POST /tasks with not_before", () => {
  it("waits, then a long poll gets it from the running sweeper within about a second of not_before", async () => {
    server.coordinator.start();
    const reg = await registerNode(server, "machine-b");
    const notBefore = Date.now() + 1500;
    const t = await createTask(server, { not_before: new Date(notBefore).toISOString() });
    expect(t).toMatchObject({ status: "waiting", not_before: new Date(notBefore).toISOString() });
    expect(okData(await server.api("GET", "/tasks/pending", { token: TOKENS.read })).tasks).toEqual([]);
    expect(okData(await server.api("GET", "/tasks?status=waiting", { token: TOKENS.read })).tasks.map((x: { id: string }) => x.id)).toEqual([t.id]);
    expect(okData(await server.api("GET", "/status", { token: TOKENS.read })).tasks).toMatchObject({ waiting: 1, pending: 0 });
    expectError(await claim(server, t.id, reg), 409, "TASK_NOT_CLAIMABLE");

    const claimed = okData(await claimNext(server, reg, { wait_seconds: 30 })).task;
    const arrived = Date.now();
    expect(claimed.id).toBe(t.id);
    expect(arrived).toBeGreaterThanOrEqual(notBefore - 5);
    // The sweep runs every second; the slack is for a loaded machine.
    expect(arrived - notBefore).toBeLessThan(4000);
    expect((await allEvents(server)).map((e) => e.type)).toContain("task.ready");
  });

  it("400 for a not_before that is not an ISO time or more than a year ahead", async () => {
    const post = (not_before: string) => server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "r", description: "d", not_before } });
    expect(expectError(await post("tomorrow"), 400, "INVALID_REQUEST").fields[0].field).toBe("body.not_before");
    expect(expectError(await post("2099-01-01T00:00:00Z"), 400, "INVALID_REQUEST").fields).toEqual([{ field: "body.not_before", message: "must be at most a year ahead" }]);
  });
});

describe("POST /tasks with concurrency_key", () => {
  it("holds a key to its limit: a long poll skips the full key for other work, then gets the keyed task the moment a claim of it ends", async () => {
    const a = await registerNode(server, "machine-a");
    const b = await registerNode(server, "machine-b");
    const first = await createTask(server, { concurrency_key: "deploy-prod", priority: "critical" });
    expect(first).toMatchObject({ concurrency_key: "deploy-prod", concurrency_limit: 1 });
    const second = await createTask(server, { concurrency_key: "deploy-prod", priority: "critical" });
    const other = await createTask(server, { priority: "low" });
    expect(okData(await claimNext(server, a)).task.id).toBe(first.id);
    expect(okData(await claimNext(server, b)).task.id).toBe(other.id);
    const full = expectError(await claim(server, second.id, b, "worker-2"), 409, "CONCURRENCY_LIMIT");
    expect(full).toMatchObject({ task_id: second.id, concurrency_key: "deploy-prod", concurrency_limit: 1, claimed: 1 });
    expect((await getTask(server, second.id)).status).toBe("pending");

    const poll = claimNext(server, b, { worker: "worker-3", wait_seconds: 30 });
    await waitFor(() => server.coordinator.longPolls === 1);
    okData(await finish(server, "complete", first.id, a, { pr: "#1" }));
    expect(okData(await poll).task).toMatchObject({ id: second.id, claimed_by: "worker-3@machine-b" });
  });

  it("400 for a concurrency_limit without a key, or out of range", async () => {
    const post = (body: Record<string, unknown>) => server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "r", description: "d", ...body } });
    expect(expectError(await post({ concurrency_limit: 2 }), 400, "INVALID_REQUEST").fields).toEqual([
      { field: "body.concurrency_limit", message: "needs a concurrency_key (the limit is per key)" },
    ]);
    expect(expectError(await post({ concurrency_key: "k", concurrency_limit: 0 }), 400, "INVALID_REQUEST").fields[0].field).toBe("body.concurrency_limit");
    expect(expectError(await post({ concurrency_key: "" }), 400, "INVALID_REQUEST").fields[0].field).toBe("body.concurrency_key");
  });
});

describe("fail with retry and tasks.retry_backoff", () => {
  it("the task waits out the backoff, doubling per attempt, and the running sweeper hands it to a long poll after it", async () => {
    const fast = await startTestServer({ retryBackoffMs: 400 });
    try {
      fast.coordinator.start();
      const reg = await registerNode(fast, "machine-b");
      const t = await createTask(fast, { max_attempts: 5 });
      // Attempts count claims: the second fail is of the third claim (a release in between), so 0.4 s × 2².
      for (const wait of [400, 1600]) {
        okData(await claimNext(fast, reg));
        const before = Date.now();
        const failed = okData(await finish(fast, "fail", t.id, reg, { reason: "flaky" }));
        const after = Date.now();
        expect(failed.status).toBe("waiting");
        expect(Date.parse(failed.not_before)).toBeGreaterThanOrEqual(before + wait);
        expect(Date.parse(failed.not_before)).toBeLessThanOrEqual(after + wait);
        expectError(await claim(fast, t.id, reg), 409, "TASK_NOT_CLAIMABLE");
        // The node's own release cooldown (30 s) would hold it back: 0.4 s backoff < cooldown. Another node takes it.
        const other = await registerNode(fast, `machine-${wait}`);
        const again = okData(await claimNext(fast, other, { wait_seconds: 30 })).task;
        expect(again).toMatchObject({ id: t.id, status: "claimed" });
        expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(failed.not_before));
        okData(await finish(fast, "release", t.id, other, {}));
      }
      const types = (await allEvents(fast)).filter((e) => e.data.task_id === t.id).map((e) => e.type);
      expect(types.filter((x) => x === "task.ready")).toHaveLength(2);
    } finally {
      await fast.close();
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
