/**
 * DESIGN §11 `depends_on` over HTTP on a real server (the rules run on every store in
 * test/store/conformance-dependencies.ts): readiness on completion, cancel on a dependency's
 * failure, the 404 and 400 answers, a long poll woken by a completion, and creates racing
 * completions on a real SQLite file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { allEvents, claim, claimNext, expectError, finish, getTask, heartbeat, okData } from "../helpers/api-fixtures.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const root = mkdtempSync(join(tmpdir(), "mcc-deps-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const post = (body: Record<string, unknown>) => server!.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "next", ...body } });

describe("POST /tasks with depends_on", () => {
  it("waits with blocked_by until its dependencies complete, then a long-polling claimer gets it at once", async () => {
    server = await startTestServer();
    const lead = await registerNode(server, "lead", { labels: { role: "api" } });
    const worker = await registerNode(server, "worker");
    const api = await createTask(server, { description: "add the API", labels: { role: "api" } });
    const client = await createTask(server, { description: "write the client", depends_on: [api.id, api.id] });
    expect(client).toMatchObject({ status: "waiting", depends_on: [api.id], blocked_by: [api.id] });
    expect(okData(await server.api("GET", "/tasks?status=waiting", { token: TOKENS.read })).tasks.map((t: { id: string }) => t.id)).toEqual([client.id]);
    expect(okData(await server.api("GET", "/status", { token: TOKENS.read })).tasks).toMatchObject({ waiting: 1, pending: 1 });
    expectError(await claim(server, client.id, worker), 409, "TASK_NOT_CLAIMABLE");

    okData(await claim(server, api.id, lead));
    const poll = claimNext(server, worker, { wait_seconds: 60 });
    // The poll is parked (nothing fits the worker yet) before the completion.
    await expect.poll(() => server!.coordinator.longPolls).toBe(1);
    okData(await finish(server, "complete", api.id, lead, { pr: "#12" }));
    // A task (not null, as a timed-out poll answers): the completion woke the parked claimer.
    const got = okData(await poll).task;
    expect(got).toMatchObject({ id: client.id, status: "claimed", blocked_by: [] });
    const types = (await allEvents(server)).filter((e) => e.data.task_id === client.id).map((e) => e.type);
    expect(types).toEqual(["task.created", "task.ready", "task.claimed"]);
  });

  it("a dependency failing for good cancels the dependents, naming it; a task created after that is cancelled at once with a warning", async () => {
    server = await startTestServer();
    const reg = await registerNode(server, "machine-b");
    const a = await createTask(server, { max_attempts: 1 });
    const b = await createTask(server, { depends_on: [a.id] });
    const c = await createTask(server, { depends_on: [b.id] });
    okData(await claim(server, a.id, reg));
    okData(await finish(server, "fail", a.id, reg, { reason: "tests red", retry: false }));
    expect(await getTask(server, b.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${a.id} failed` });
    expect(await getTask(server, c.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${b.id} cancelled` });

    const late = await post({ depends_on: [a.id] });
    expect(late.status).toBe(201);
    expect(late.body.data).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${a.id} failed`, warnings: [`the task was cancelled at once: dependency ${a.id} failed`] });

    // Retrying the dependent first is refused; after its dependency it waits for it again.
    const refused = expectError(await server.api("POST", `/tasks/${b.id}/retry`, { token: TOKENS.admin }), 409, "TASK_NOT_RETRYABLE");
    expect(refused).toMatchObject({ task_id: b.id, dependency: a.id, dependency_status: "failed" });
    okData(await server.api("POST", `/tasks/${a.id}/retry`, { token: TOKENS.admin }));
    expect(okData(await server.api("POST", `/tasks/${b.id}/retry`, { token: TOKENS.admin }))).toMatchObject({ status: "waiting", blocked_by: [a.id] });
  });

  it("404 TASK_NOT_FOUND naming an unknown dependency; 400 for more than 32, a wrong type or a bad id", async () => {
    server = await startTestServer();
    const a = await createTask(server, {});
    expect(expectError(await post({ depends_on: [a.id, "task-ghost"] }), 404, "TASK_NOT_FOUND")).toMatchObject({ task_id: "task-ghost" });
    const many = Array.from({ length: 33 }, (_, i) => `task-${i}`);
    expect(expectError(await post({ depends_on: many }), 400, "INVALID_REQUEST").fields[0].field).toBe("body.depends_on");
    expectError(await post({ depends_on: a.id }), 400, "INVALID_REQUEST");
    expectError(await post({ depends_on: [42] }), 400, "INVALID_REQUEST");
    expectError(await post({ depends_on: [""] }), 400, "INVALID_REQUEST");
    // Nothing was created by the refused requests.
    expect(okData(await server.api("GET", "/tasks", { token: TOKENS.read })).tasks).toHaveLength(1);
  });

  it("on a real SQLite file, dependents created while their dependencies complete are all ready (none stranded waiting)", async () => {
    server = await startTestServer({ store: await createSqliteStore(join(root, "race.db")) });
    const reg = await registerNode(server, "machine-b", { maxWorkers: 40 });
    const deps = [];
    for (let i = 0; i < 30; i++) deps.push(await createTask(server, { description: `step ${i}` }));
    for (const d of deps) okData(await claim(server, d.id, reg, `w${d.id}`));
    const answers = await Promise.all(deps.flatMap((d) => [post({ depends_on: [d.id] }), finish(server!, "complete", d.id, reg, {})]));
    for (const res of answers) expect(res.status).toBeLessThan(300);
    expect(okData(await server.api("GET", "/status", { token: TOKENS.read })).tasks).toMatchObject({ waiting: 0, pending: 30, completed: 30 });
  });

  it("on a real SQLite file, cancelling a task with 1,000 dependents (one with 1,000 of its own) cancels all 2,000 in one write while heartbeats are answered", async () => {
    server = await startTestServer({ store: await createSqliteStore(join(root, "wide.db")) });
    const reg = await registerNode(server, "machine-c");
    const x = await createTask(server, { description: "root" });
    const batch = (dep: string) =>
      server!.api("POST", "/tasks/batch", { token: TOKENS.node, body: { tasks: Array.from({ length: 1000 }, (_, i) => ({ repo: "my-repo", description: `d${i}`, depends_on: [dep] })) } });
    const children = await batch(x.id);
    expect(children.status).toBe(201);
    const first = children.body.data.tasks[0].id;
    expect((await batch(first)).status).toBe(201);
    const cancel = server.api("POST", `/tasks/${x.id}/cancel`, { token: TOKENS.admin, body: { reason: "not needed" } });
    let cancelled = false;
    void cancel.then(() => (cancelled = true));
    // Heartbeats keep being answered while the cascade runs (none waits for it to end).
    const beats = [];
    do beats.push(await heartbeat(server, reg));
    while (!cancelled && beats.length < 50);
    for (const b of beats) expect(b.status).toBe(200);
    expect(okData(await cancel).status).toBe("cancelled");
    expect(okData(await server.api("GET", "/status", { token: TOKENS.read })).tasks).toMatchObject({ waiting: 0, cancelled: 2001 });
    const grandchild = okData(await server.api("GET", `/tasks?status=cancelled&limit=1`, { token: TOKENS.read })).tasks[0];
    expect(grandchild.cancel_reason).toMatch(/^dependency task-\S+ cancelled$/);
  });
});
