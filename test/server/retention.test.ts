/**
 * DESIGN §10 over HTTP: retention purged by the sweeper (clock moved by the test), DELETE
 * /nodes/{id}, and paged GET /nodes and GET /messages. Real server on port 0, SQLite store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { allEvents, claim, expectError, finish, heartbeat, makeClock, okData, type TestClock } from "../helpers/api-fixtures.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

const DAY = 86_400_000;
const root = mkdtempSync(join(tmpdir(), "mcc-retention-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let server: TestServer;
let clock: TestClock;
let n = 0;

beforeEach(async () => {
  clock = makeClock();
  const store = await createSqliteStore(join(root, `db-${++n}.db`));
  server = await startTestServer({ store, clock: clock.now, retention: { tasksMs: 2 * DAY, messagesMs: DAY, forgetAfterMs: 3 * DAY } });
});
afterEach(async () => {
  await server.close();
});

const send = (to: string, body: string) => server.api("POST", "/messages", { token: TOKENS.admin, body: { from: "lead@hq", to, body } });

describe("retention through the sweeper", () => {
  it("purges a finished task, an acked message and a silent node after their retention; GET answers 404 after", async () => {
    const reg = await registerNode(server, "worker-box");
    const task = await createTask(server, {});
    okData(await claim(server, task.id, reg));
    okData(await finish(server, "complete", task.id, reg, { pr: "#7" }));
    const msg = okData(await send("w@worker-box", "hello"), 201);
    okData(await server.api("POST", `/messages/${msg.id}/ack`, { token: TOKENS.node, body: { registration_id: reg } }));

    clock.advance(DAY + 1);
    okData(await heartbeat(server, reg));
    expect(await server.coordinator.sweep()).toMatchObject({ purged_tasks: 0, purged_messages: 1, forgotten: [] });
    expect(okData(await server.api("GET", "/messages", { token: TOKENS.read })).messages).toEqual([]);
    expect(okData(await server.api("GET", `/tasks/${task.id}`, { token: TOKENS.read })).status).toBe("completed");

    clock.advance(DAY);
    okData(await heartbeat(server, reg));
    expect((await server.coordinator.sweep()).purged_tasks).toBe(1);
    expectError(await server.api("GET", `/tasks/${task.id}`, { token: TOKENS.read }), 404, "TASK_NOT_FOUND");

    // No heartbeat for longer than forget_after: offline and forgotten in one sweep.
    clock.advance(3 * DAY + 1);
    expect(await server.coordinator.sweep()).toMatchObject({ offline: ["worker-box"], forgotten: ["worker-box"] });
    expect((await server.coordinator.sweep()).forgotten).toEqual([]);
    expectError(await server.api("GET", "/nodes/worker-box", { token: TOKENS.read }), 404, "NODE_NOT_FOUND");
    const forgotten = (await allEvents(server)).filter((e) => e.type === "node.forgotten");
    expect(forgotten).toHaveLength(1);
    expect(forgotten[0]!.data).toMatchObject({ node_id: "worker-box", released_tasks: [], ts: clock.iso() });
    expectError(await heartbeat(server, reg), 404, "REGISTRATION_NOT_FOUND");
  });
});

describe("DELETE /nodes/{id}", () => {
  it("forgets a node now (admin): claims back to pending, node.forgotten; 404 when unknown; 403 for other roles", async () => {
    const reg = await registerNode(server, "doomed");
    const task = await createTask(server, {});
    okData(await claim(server, task.id, reg));
    okData(await send("w@doomed", "you will never read this"), 201);

    expectError(await server.api("DELETE", "/nodes/doomed", { token: TOKENS.node }), 403, "FORBIDDEN");
    expectError(await server.api("DELETE", "/nodes/doomed", { token: TOKENS.read }), 403, "FORBIDDEN");
    expectError(await server.api("DELETE", "/nodes/doomed", { token: null }), 401, "UNAUTHORIZED");
    expect(okData(await server.api("GET", "/nodes/doomed", { token: TOKENS.read })).status).toBe("online");

    const done = okData(await server.api("DELETE", "/nodes/doomed"));
    expect(done).toEqual({ node_id: "doomed", released_tasks: [task.id] });
    expectError(await server.api("GET", "/nodes/doomed", { token: TOKENS.read }), 404, "NODE_NOT_FOUND");
    expect(okData(await server.api("GET", `/tasks/${task.id}`, { token: TOKENS.read })).status).toBe("pending");
    expect(okData(await server.api("GET", "/messages?node=doomed", { token: TOKENS.read })).messages).toEqual([]);
    const events = (await allEvents(server)).filter((e) => e.data.node_id === "doomed").map((e) => e.type);
    expect(events.slice(-2)).toEqual(["task.released", "node.forgotten"]);

    expectError(await server.api("DELETE", "/nodes/doomed"), 404, "NODE_NOT_FOUND");
    expectError(await server.api("DELETE", "/nodes/no@such"), 400, "INVALID_REQUEST");
    // The node's agent re-registers by itself and starts afresh.
    expectError(await heartbeat(server, reg), 404, "REGISTRATION_NOT_FOUND");
    await registerNode(server, "doomed");
    expect(okData(await server.api("GET", "/nodes/doomed", { token: TOKENS.read })).claimed_tasks).toEqual([]);
  });
});

describe("paged lists", () => {
  it("GET /nodes pages by id with limit (≤ 1000) and cursor, filters included", async () => {
    for (const id of ["n-c", "n-a", "n-e", "n-b", "n-d"]) await registerNode(server, id, { labels: id < "n-c" ? { pool: "gpu" } : {} });
    const first = okData(await server.api("GET", "/nodes?limit=2", { token: TOKENS.read }));
    expect(first.nodes.map((x: any) => x.id)).toEqual(["n-a", "n-b"]);
    expect(first.next_cursor).toBe("n-b");
    const second = okData(await server.api("GET", `/nodes?limit=2&cursor=${first.next_cursor}`, { token: TOKENS.read }));
    expect(second.nodes.map((x: any) => x.id)).toEqual(["n-c", "n-d"]);
    const last = okData(await server.api("GET", `/nodes?limit=2&cursor=${second.next_cursor}`, { token: TOKENS.read }));
    expect(last).toMatchObject({ next_cursor: null });
    expect(last.nodes.map((x: any) => x.id)).toEqual(["n-e"]);
    const all = okData(await server.api("GET", "/nodes", { token: TOKENS.read }));
    expect(all.nodes).toHaveLength(5);
    expect(all.next_cursor).toBeNull();
    const gpu = okData(await server.api("GET", "/nodes?label=pool:gpu&limit=1", { token: TOKENS.read }));
    expect(gpu).toMatchObject({ nodes: [{ id: "n-a" }], next_cursor: "n-a" });
    expect(okData(await server.api("GET", "/nodes?label=pool:gpu&limit=1&cursor=n-a", { token: TOKENS.read })).nodes.map((x: any) => x.id)).toEqual(["n-b"]);
    expectError(await server.api("GET", "/nodes?limit=1001", { token: TOKENS.read }), 400, "INVALID_REQUEST");
    expectError(await server.api("GET", "/nodes?limit=0", { token: TOKENS.read }), 400, "INVALID_REQUEST");
  });

  it("GET /nodes answers at most 100 by default", async () => {
    await Promise.all(Array.from({ length: 105 }, (_, i) => registerNode(server, `bulk-${String(i).padStart(3, "0")}`)));
    const page = okData(await server.api("GET", "/nodes", { token: TOKENS.read }));
    expect(page.nodes).toHaveLength(100);
    expect(page.next_cursor).toBe("bulk-099");
    expect(okData(await server.api("GET", `/nodes?cursor=${page.next_cursor}`, { token: TOKENS.read })).nodes).toHaveLength(5);
  });

  it("GET /messages pages oldest first with limit and cursor", async () => {
    await registerNode(server, "inbox");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(okData(await send("w@inbox", `m${i}`), 201).id);
    const first = okData(await server.api("GET", "/messages?node=inbox&limit=3", { token: TOKENS.read }));
    expect(first.messages.map((m: any) => m.id)).toEqual(ids.slice(0, 3));
    expect(first.next_cursor).toBe(ids[2]);
    const rest = okData(await server.api("GET", `/messages?node=inbox&limit=3&cursor=${first.next_cursor}`, { token: TOKENS.read }));
    expect(rest).toEqual({ messages: expect.any(Array), next_cursor: null });
    expect(rest.messages.map((m: any) => m.id)).toEqual(ids.slice(3));
    expectError(await server.api("GET", "/messages?limit=5000", { token: TOKENS.read }), 400, "INVALID_REQUEST");
  });
});
