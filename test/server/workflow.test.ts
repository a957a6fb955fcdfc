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
