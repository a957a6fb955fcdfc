/**
 * DESIGN §14: unknown fields in a request body are ignored (a newer client keeps working with an
 * older coordinator during a rolling upgrade) and named in `Warning: 299` headers; wrong types
 * and values are still 400.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/client/index.js";
import { expectError, okData } from "../helpers/api-fixtures.js";
import { registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer;
let reg: string;
beforeAll(async () => {
  server = await startTestServer();
  reg = await registerNode(server, "machine-b");
});
afterAll(() => server.close());

/** The Warning header values of an answer (fetch joins repeated headers with ", "). */
const warnings = (headers: Headers) => [...(headers.get("warning") ?? "").matchAll(/299 - "([^"]*)"/g)].map((m) => m[1]);

describe("unknown fields in request bodies", () => {
  it("are ignored, and each one is named in a Warning header", async () => {
    const res = await server.api("POST", "/tasks", {
      token: TOKENS.node,
      body: { repo: "my-repo", description: "from a newer client", deadline: "2027-01-01", owner: { team: "x" } },
    });
    const task = okData(res, 201);
    expect(task).not.toHaveProperty("deadline");
    expect(warnings(res.headers)).toEqual(["unknown field body.deadline", "unknown field body.owner"]);
    const raw = await fetch(`${server.url}/api/v1/tasks/${task.id}`, { headers: { authorization: `Bearer ${TOKENS.read}` } });
    expect(raw.headers.get("warning")).toBeNull();
  });

  it("are found inside nested objects and arrays (the rolling-upgrade case: agents[].started_at)", async () => {
    const res = await server.api("POST", "/heartbeat", {
      token: TOKENS.node,
      body: {
        registration_id: reg,
        agents: [{ name: "worker-1", type: "worker", status: "running", started_at: "2026-12-01T07:00:00Z" }],
        capacity: { current_workers: 1, gpus: 2 },
      },
    });
    okData(res);
    expect(warnings(res.headers)).toEqual(["unknown field body.agents.0.started_at", "unknown field body.capacity.gpus"]);
    const node = okData(await server.api("GET", "/nodes/machine-b", { token: TOKENS.read }));
    expect(node.agents).toEqual([{ name: "worker-1", type: "worker", status: "running" }]);
  });

  it("do not excuse wrong types or values: 400 naming only those", async () => {
    const res = await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "d", priority: "urgent", color: "red" } });
    const details = expectError(res, 400, "INVALID_REQUEST");
    expect(details.fields).toEqual([{ field: "body.priority", message: "must be one of critical, high, medium, low" }]);
  });

  it("are not label keys: a label map still refuses a key it does not allow", async () => {
    const res = await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "d", labels: { "bad key!": "x" } } });
    expectError(res, 400, "INVALID_REQUEST");
  });

  it("are reported by the client library through onWarning", async () => {
    const seen: string[] = [];
    const client = new Client({ url: server.url, token: TOKENS.node, onWarning: (w) => seen.push(w) });
    try {
      await client.transport.request("POST", "/tasks", { body: { repo: "my-repo", description: "d", future_field: 1 } });
      expect(seen).toEqual(["unknown field body.future_field"]);
    } finally {
      await client.close();
    }
  });
});
