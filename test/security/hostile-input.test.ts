import fc from "fast-check";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

interface BadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Strings no name-like field accepts (ids, names, addresses): CR/LF (SSE and header injection), NUL, separators, over-long. */
const badName = fc.oneof(
  fc.constantFrom("a\r\nevent: task.completed\r\ndata: {}", "x\u0000y", "\u202e", "../../etc/passwd", "a b", "@@", "", "a,b:c"),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `\n${s}`),
  fc.integer({ min: 258, max: 3000 }).map((n) => "n".repeat(n)),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).map((s) => `${s}\u0007`),
);
/** Free text takes almost anything, but not C0 control characters or more than its cap. */
const badText = fc.oneof(
  fc.constantFrom("x\u0000y", "bell\u0007", "esc\u001b[31m"),
  fc.constant("t".repeat(70_000)),
);
/** Values of the wrong JSON type for a string field. */
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 2 }));
/** Values no number field accepts. */
const badNumber = fc.oneof(fc.string({ maxLength: 5 }), fc.constant(-1), fc.constant(1e12), fc.constant(-0.5), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }));
/** Values no object field accepts (labels, capacity, metrics) or list field accepts (agents). */
const notAnObject = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.boolean());
const badLabels = fc.oneof(notAnObject, fc.constant({ "bad key": "v" }), fc.constant({ k: "" }), fc.constant({ k: 1 }), fc.constant({ k: "a\r\nb" }));
const deep = fc.integer({ min: 1000, max: 50_000 }).map((n) => "[".repeat(n) + "]".repeat(n));

type Kind = "name" | "text" | "number" | "object" | "labels" | "bool";
const BAD: Record<Kind, fc.Arbitrary<unknown>> = {
  name: fc.oneof(badName, notAString),
  text: fc.oneof(badText, notAString),
  number: badNumber,
  object: notAnObject,
  labels: badLabels,
  bool: fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)),
};

/** A body for `fields` (each a valid value and its kind) in which one field, or the JSON itself, is bad. */
function badBody(fields: Record<string, [unknown, Kind]>): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const valid = Object.fromEntries(names.map((n) => [n, fields[n]![0]]));
  const corruptObject = fc.constantFrom(...names).chain((field) => BAD[fields[field]![1]].map((value) => ({ ...valid, [field]: value })));
  const corrupt = corruptObject.map((o) => JSON.stringify(o));
  return fc.oneof(
    { weight: 4, arbitrary: corrupt },
    fc.constantFrom("{", '{"a":', "[1,2", "nul", "{'single':'quotes'}", '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}'),
    deep,
    fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== "object" || v === null || Array.isArray(v)).map((v) => JSON.stringify(v)),
    // Unknown fields are ignored (DESIGN §14), so here they come with a corrupted known field: still refused.
    fc
      .tuple(corruptObject, fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !names.includes(k) && k !== "__proto__"), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 }))
      .map(([bad, extra]) => JSON.stringify({ ...extra, ...bad })),
    fc.constant(JSON.stringify({ ...valid, [names[0]!]: "x".repeat(1_100_000) })),
  );
}

describe("hostile input", () => {
  let server: TestServer;
  let pool: Pool;
  let reg: string;
  let taskId: string;
  let messageId: string;
  let before: { status: any; events: number; tasks: any; messages: any };

  const snapshot = async () => {
    const status = (await server.api("GET", "/status")).body.data;
    return {
      status: { nodes: status.nodes, tasks: status.tasks, last_event_id: status.last_event_id },
      events: status.last_event_id,
      tasks: (await server.api("GET", "/tasks?limit=1000")).body.data,
      messages: (await server.api("GET", "/messages")).body.data,
    };
  };

  beforeAll(async () => {
    server = await startTestServer();
    pool = new Pool(server.url, { connections: 8 });
    reg = await registerNode(server, "machine-b", { labels: { pool: "gpu" } });
    taskId = (await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "d" } })).body.data.id;
    await server.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: reg, agents: [{ name: "supervisor", type: "supervisor", status: "running", repo: "my-repo" }] } });
    messageId = (await server.api("POST", "/messages", { token: TOKENS.node, body: { registration_id: reg, from: "a@machine-b", to: "supervisor@machine-b", body: "hi" } })).body.data.id;
    before = await snapshot();
  });
  afterAll(async () => {
    await pool.close();
    await server.close();
  });

  function requests(): fc.Arbitrary<BadRequest> {
    const json = { "content-type": "application/json", authorization: `Bearer ${TOKENS.admin}` };
    const post = (path: string, fields: Record<string, [unknown, Kind]>) => badBody(fields).map((body) => ({ method: "POST", path, headers: json, body }));
    const ids = fc.oneof(badName, fc.constantFrom("..", "%2e%2e", "%00", "a%0d%0ab", "%ff", "task-nope", "x".repeat(300))).map((s) =>
      /^[\x21-\x7e]+$/.test(s) ? s : encodeURIComponent(s),
    );
    const query = fc.constantFrom(
      "/tasks?limit=abc", "/tasks?limit=-1", "/tasks?limit=1e309", "/tasks?limit=99999999", "/tasks?status=done", "/tasks?cursor=%00",
      "/tasks?limit=1&limit=2", "/tasks/pending?labels=:::,,", "/tasks/pending?labels=pool", "/tasks/pending?wait_seconds=NaN",
      "/tasks/pending?wait_seconds=100000", "/events?since=-1", "/events?since=99999999999999999999", "/events?types=../etc",
      "/events?types=task.*,nope", "/events?limit=0", "/nodes?status=sleeping", "/nodes?label=%0d%0a", "/messages?status=read",
      "/events/stream?since=abc", "/events/stream?types=bogus", "/state/..%2f..%2fetc", "/nodes/%00", "/tasks?unknown=1",
    );
    return fc.oneof(
      post("/register", { node_id: ["machine-x", "name"], hostname: ["h", "name"], capacity: [{ max_workers: 2 }, "object"], labels: [{ pool: "gpu" }, "labels"] }),
      post("/heartbeat", { registration_id: [reg, "name"], status: ["healthy", "name"], agents: [[], "object"], metrics: [{ cpu_percent: 1 }, "object"] }),
      post("/deregister", { registration_id: [reg, "name"] }),
      post("/tasks", { repo: ["my-repo", "name"], description: ["d", "text"], priority: ["high", "name"], labels: [{ pool: "gpu" }, "labels"], max_attempts: [2, "number"] }),
      post("/tasks/claim", { registration_id: [reg, "name"], worker_name: ["w", "name"], wait_seconds: [0, "number"] }),
      post(`/tasks/${taskId}/claim`, { registration_id: [reg, "name"], worker_name: ["w", "name"] }),
      post(`/tasks/${taskId}/complete`, { registration_id: [reg, "name"], pr: ["#1", "text"], summary: ["s", "text"] }),
      post(`/tasks/${taskId}/fail`, { registration_id: [reg, "name"], reason: ["r", "text"], retry: [false, "bool"] }),
      post(`/tasks/${taskId}/release`, { registration_id: [reg, "name"], reason: ["r", "text"] }),
      post(`/tasks/${taskId}/cancel`, { reason: ["r", "text"] }),
      post("/messages", { from: ["a@b", "name"], to: ["supervisor@machine-b", "name"], body: ["hi", "text"], repo: ["my-repo", "name"] }),
      post(`/messages/${messageId}/ack`, { registration_id: [reg, "name"] }),
      ids.chain((id) => fc.constantFrom("GET", "POST").map((method) => ({ method, path: `/tasks/${id}/claim`, headers: json, body: JSON.stringify({ registration_id: reg }) }))),
      ids.map((id) => ({ method: "GET", path: `/nodes/${id}`, headers: json })),
      query.map((path) => ({ method: "GET", path, headers: json })),
      fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml").map((type) => ({
        method: "POST",
        path: "/tasks",
        headers: { "content-type": type, authorization: `Bearer ${TOKENS.admin}` },
        body: "repo=my-repo&description=d",
      })),
      fc.constantFrom("DELETE", "PUT", "PATCH").map((method) => ({ method, path: `/tasks/${taskId}`, headers: json })),
      fc.constantFrom("/../../etc/passwd", "/tasks/a/b/c/d", "/%", "//tasks", "/tasks/%E0%A4%A").map((path) => ({ method: "GET", path, headers: json })),
    );
  }

  it("answers 500+ generated bad requests with a 4xx envelope, no stack trace, and no change", async () => {
    const samples = fc.sample(requests(), { numRuns: 600, seed: Number(process.env.FC_SEED ?? 4242) });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const r = samples[next++]!;
        const res = await pool.request({ method: r.method as "GET", path: `/api/v1${r.path}`, headers: r.headers, body: r.body });
        const text = await res.body.text();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const ok =
          res.statusCode >= 400 &&
          res.statusCode < 500 &&
          body?.success === false &&
          typeof body.error === "string" &&
          /^[A-Z_]+$/.test(body.code) &&
          typeof body.details === "object" &&
          !/\n\s+at |node_modules|\.ts:\d+/.test(text);
        if (!ok) failures.push(`${r.method} ${r.path.slice(0, 80)} ${r.body?.slice(0, 80)} → ${res.statusCode} ${text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toEqual([]);
    expect(samples.length).toBeGreaterThanOrEqual(500);
    // Not all one kind of refusal: validation, routing, media type and size all show up.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 404, 413, 415]));

    expect((await server.api("GET", "/health", { token: null })).body).toEqual({ success: true, data: { status: "ok" } });
    expect(await snapshot()).toEqual(before);
  });
});
