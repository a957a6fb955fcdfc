/**
 * `POST /tasks/batch` over real HTTP: a full batch of 1,000 tasks fits the route's body limit
 * (larger than the 1 MiB of other routes), every task reaches event streams as its own
 * `task.created`, unknown item fields are warned about, and a bad item refuses everything.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_BATCH_TASKS } from "../../src/core/tasks.js";
import { openEventStream } from "../helpers/sse-client.js";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

const batch = (tasks: unknown[], token: string = TOKENS.node) => server.api("POST", "/tasks/batch", { token, body: { tasks } });

describe("POST /tasks/batch", () => {
  it("takes 1,000 tasks in a body over 1 MiB, and streams one task.created per task, in order", async () => {
    const stream = await openEventStream(`${server.url}/api/v1/events/stream?types=task.created`, { token: TOKENS.read });
    try {
      const tasks = Array.from({ length: MAX_BATCH_TASKS }, (_, i) => ({ repo: "bulk", description: `${i} ${"x".repeat(1500)}` }));
      expect(JSON.stringify({ tasks }).length).toBeGreaterThan(1024 * 1024);
      const res = await batch(tasks);
      expect(res.status).toBe(201);
      expect(res.body.data.tasks).toHaveLength(MAX_BATCH_TASKS);
      expect(res.body.data.created.every(Boolean)).toBe(true);
      const events = await stream.waitForEvents(MAX_BATCH_TASKS, 20_000);
      expect(events.map((e) => e.data.task_id)).toEqual(res.body.data.tasks.map((t: { id: string }) => t.id));
    } finally {
      stream.close();
    }
  });

  it("names unknown item fields in a Warning header and creates the tasks without them", async () => {
    const res = await batch([{ repo: "r", description: "d", colour: "red" }]);
    expect(res.status).toBe(201);
    expect(res.headers.get("warning")).toContain("unknown field body.tasks.0.colour");
    expect(res.body.data.tasks[0]).not.toHaveProperty("colour");
  });

  it("refuses an empty batch, more than 1,000 items, and a read token; writes nothing for a bad item", async () => {
    expect((await batch([])).body.details.fields).toEqual([{ field: "body.tasks", message: "must NOT have fewer than 1 items" }]);
    const tooMany = await batch(Array.from({ length: MAX_BATCH_TASKS + 1 }, () => ({ repo: "r", description: "d" })));
    expect([tooMany.status, tooMany.body.details.fields[0].field]).toEqual([400, "body.tasks"]);
    expect((await batch([{ repo: "r", description: "d" }], TOKENS.read)).status).toBe(403);
    const bad = await batch([{ repo: "r", description: "ok" }, { repo: "r", description: "ok" }, { repo: "r", description: "d", priority: "urgent" }]);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^invalid request: tasks\[2\]: body\.tasks\[2\]\.priority: must be one of/);
    expect(bad.body.details).toMatchObject({ index: 2, fields: [{ field: "body.tasks[2].priority" }] });
    expect((await server.api("GET", "/tasks", { token: TOKENS.read })).body.data.tasks).toEqual([]);
  });
});
