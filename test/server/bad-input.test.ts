/**
 * Bad requests get the documented 4xx in the error envelope, never a 500 or a stack trace, and
 * change nothing; tokens and roles are enforced on every route of DESIGN section 5.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { claim, expectError, expectNoInternals, okData, snapshot } from "../helpers/api-fixtures.js";
import { openEventStream } from "../helpers/sse-client.js";

let server: TestServer;
let reg: string;
/** A registration made with the admin token (the matrix acts through a registration with its own token). */
let adminReg: string;
let claimedId: string;
let pendingId: string;
let messageId: string;

beforeAll(async () => {
  server = await startTestServer();
  reg = await registerNode(server, "machine-b", { labels: { pool: "gpu" } });
  adminReg = okData(await server.api("POST", "/register", { token: TOKENS.admin, body: { node_id: "machine-admin" } })).registration_id;
  okData(await server.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: reg, agents: [{ name: "supervisor", type: "supervisor", status: "running", repo: "my-repo" }] } }));
  claimedId = (await createTask(server, { description: "claimed one" })).id;
  okData(await claim(server, claimedId, reg));
  pendingId = (await createTask(server, { description: "pending one", labels: { pool: "gpu" } })).id;
  messageId = okData(
    await server.api("POST", "/messages", { token: TOKENS.node, body: { registration_id: reg, from: "a@machine-b", to: "supervisor@machine-b", body: "hi" } }),
    201,
  ).id;
});
afterAll(async () => {
  await server.close();
});

interface Case {
  name: string;
  method: string;
  path: string | (() => string);
  body?: unknown | (() => unknown);
  raw?: string;
  headers?: Record<string, string>;
  token?: string | null;
  status: number;
  code: string;
  /** Field names that details.fields must include. */
  fields?: string[];
}

const task = () => ({ repo: "my-repo", description: "valid" });

const cases: Case[] = [
  // ---- malformed bodies
  { name: "malformed JSON", method: "POST", path: "/tasks", raw: '{"repo": "my-repo",', headers: { "content-type": "application/json" }, status: 400, code: "INVALID_REQUEST" },
  { name: "JSON that is not JSON at all", method: "POST", path: "/register", raw: "node_id=machine-x", headers: { "content-type": "application/json" }, status: 400, code: "INVALID_REQUEST" },
  { name: "empty JSON body", method: "POST", path: "/tasks", raw: "", headers: { "content-type": "application/json" }, status: 400, code: "INVALID_REQUEST" },
  { name: "JSON array body", method: "POST", path: "/tasks", body: [task()], status: 400, code: "INVALID_REQUEST" },
  { name: "JSON null body", method: "POST", path: "/heartbeat", raw: "null", headers: { "content-type": "application/json" }, status: 400, code: "INVALID_REQUEST" },
  { name: "JSON string body", method: "POST", path: "/tasks", raw: '"repo"', headers: { "content-type": "application/json" }, status: 400, code: "INVALID_REQUEST" },
  // ---- wrong types (bodies are strict: no coercion)
  { name: 'max_attempts "3"', method: "POST", path: "/tasks", body: { ...task(), max_attempts: "3" }, status: 400, code: "INVALID_REQUEST", fields: ["body.max_attempts"] },
  { name: "max_attempts 0", method: "POST", path: "/tasks", body: { ...task(), max_attempts: 0 }, status: 400, code: "INVALID_REQUEST", fields: ["body.max_attempts"] },
  { name: "max_attempts 2.5", method: "POST", path: "/tasks", body: { ...task(), max_attempts: 2.5 }, status: 400, code: "INVALID_REQUEST", fields: ["body.max_attempts"] },
  { name: "unknown priority", method: "POST", path: "/tasks", body: { ...task(), priority: "urgent" }, status: 400, code: "INVALID_REQUEST", fields: ["body.priority"] },
  { name: "label value not a string", method: "POST", path: "/tasks", body: { ...task(), labels: { pool: 1 } }, status: 400, code: "INVALID_REQUEST" },
  { name: "labels as an array", method: "POST", path: "/tasks", body: { ...task(), labels: ["pool:gpu"] }, status: 400, code: "INVALID_REQUEST" },
  { name: "description as a number", method: "POST", path: "/tasks", body: { repo: "my-repo", description: 5 }, status: 400, code: "INVALID_REQUEST", fields: ["body.description"] },
  { name: "empty description", method: "POST", path: "/tasks", body: { repo: "my-repo", description: "" }, status: 400, code: "INVALID_REQUEST", fields: ["body.description"] },
  { name: "repo with a slash", method: "POST", path: "/tasks", body: { repo: "../etc", description: "x" }, status: 400, code: "INVALID_REQUEST", fields: ["body.repo"] },
  { name: 'capacity.max_workers "5"', method: "POST", path: "/register", body: { node_id: "machine-x", capacity: { max_workers: "5" } }, status: 400, code: "INVALID_REQUEST", fields: ["body.capacity.max_workers"] },
  { name: "negative max_workers", method: "POST", path: "/register", body: { node_id: "machine-x", capacity: { max_workers: -1 } }, status: 400, code: "INVALID_REQUEST", fields: ["body.capacity.max_workers"] },
  { name: "node_id with @", method: "POST", path: "/register", body: { node_id: "a@b" }, status: 400, code: "INVALID_REQUEST", fields: ["body.node_id"] },
  { name: "unknown heartbeat status", method: "POST", path: "/heartbeat", body: () => ({ registration_id: reg, status: "sleepy" }), status: 400, code: "INVALID_REQUEST", fields: ["body.status"] },
  { name: "agents not an array", method: "POST", path: "/heartbeat", body: () => ({ registration_id: reg, agents: { name: "w" } }), status: 400, code: "INVALID_REQUEST", fields: ["body.agents"] },
  { name: "metric as a string", method: "POST", path: "/heartbeat", body: () => ({ registration_id: reg, metrics: { cpu_percent: "45" } }), status: 400, code: "INVALID_REQUEST" },
  { name: 'retry "false"', method: "POST", path: () => `/tasks/${claimedId}/fail`, body: () => ({ registration_id: reg, reason: "x", retry: "false" }), status: 400, code: "INVALID_REQUEST", fields: ["body.retry"] },
  { name: 'wait_seconds "5"', method: "POST", path: "/tasks/claim", body: () => ({ registration_id: reg, worker_name: "w", wait_seconds: "5" }), status: 400, code: "INVALID_REQUEST", fields: ["body.wait_seconds"] },
  { name: "wait_seconds over 300", method: "POST", path: "/tasks/claim", body: () => ({ registration_id: reg, worker_name: "w", wait_seconds: 301 }), status: 400, code: "INVALID_REQUEST", fields: ["body.wait_seconds"] },
  { name: "message body too long (> 64 KiB)", method: "POST", path: "/messages", body: { from: "a@machine-b", to: "supervisor@machine-b", body: "x".repeat(65_537) }, status: 400, code: "INVALID_REQUEST", fields: ["body.body"] },
  // ---- unknown fields are ignored (test/server/unknown-fields.test.ts), but not what comes with them
  { name: "unknown field next to a wrong type", method: "POST", path: "/tasks", body: { ...task(), prioritty: "high", max_attempts: "3" }, status: 400, code: "INVALID_REQUEST", fields: ["body.max_attempts"] },
  { name: "unknown nested field next to a bad value", method: "POST", path: "/register", body: { node_id: "machine-x", capacity: { max_workers: -1, gpus: 2 } }, status: 400, code: "INVALID_REQUEST", fields: ["body.capacity.max_workers"] },
  // ---- missing fields
  { name: "missing description", method: "POST", path: "/tasks", body: { repo: "my-repo" }, status: 400, code: "INVALID_REQUEST", fields: ["body.description"] },
  { name: "missing repo and description together", method: "POST", path: "/tasks", body: {}, status: 400, code: "INVALID_REQUEST", fields: ["body.repo", "body.description"] },
  { name: "missing node_id", method: "POST", path: "/register", body: { hostname: "h" }, status: 400, code: "INVALID_REQUEST", fields: ["body.node_id"] },
  { name: "missing registration_id", method: "POST", path: "/heartbeat", body: { status: "healthy" }, status: 400, code: "INVALID_REQUEST", fields: ["body.registration_id"] },
  { name: "missing worker_name", method: "POST", path: () => `/tasks/${pendingId}/claim`, body: () => ({ registration_id: reg }), status: 400, code: "INVALID_REQUEST", fields: ["body.worker_name"] },
  { name: "missing fail reason", method: "POST", path: () => `/tasks/${claimedId}/fail`, body: () => ({ registration_id: reg }), status: 400, code: "INVALID_REQUEST", fields: ["body.reason"] },
  { name: "missing message body", method: "POST", path: "/messages", body: { from: "a@machine-b", to: "supervisor@machine-b" }, status: 400, code: "INVALID_REQUEST", fields: ["body.body"] },
  { name: "no body at all on claim", method: "POST", path: () => `/tasks/${pendingId}/claim`, status: 400, code: "INVALID_REQUEST" },
  // ---- unknown routes and methods
  { name: "unknown route", method: "GET", path: "/nope", status: 404, code: "NOT_FOUND" },
  { name: "unknown sub-route", method: "POST", path: () => `/tasks/${pendingId}/explode`, body: {}, status: 404, code: "NOT_FOUND" },
  { name: "unsupported method", method: "DELETE", path: () => `/tasks/${pendingId}`, status: 404, code: "NOT_FOUND" },
  { name: "GET on a POST route", method: "GET", path: "/register", status: 404, code: "NOT_FOUND" },
  // ---- size and content type
  { name: "body over 1 MiB", method: "POST", path: "/tasks", body: { repo: "my-repo", description: "x".repeat(1024 * 1024 + 10) }, status: 413, code: "PAYLOAD_TOO_LARGE" },
  { name: "text/plain body", method: "POST", path: "/tasks", raw: JSON.stringify(task()), headers: { "content-type": "text/plain" }, status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
  { name: "form body", method: "POST", path: "/tasks", raw: "repo=my-repo&description=x", headers: { "content-type": "application/x-www-form-urlencoded" }, status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
  { name: "XML body", method: "POST", path: "/register", raw: "<node_id>x</node_id>", headers: { "content-type": "application/xml" }, status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
  // ---- query strings
  { name: "limit=abc", method: "GET", path: "/tasks?limit=abc", status: 400, code: "INVALID_REQUEST", fields: ["query.limit"] },
  { name: "limit=-1", method: "GET", path: "/tasks?limit=-1", status: 400, code: "INVALID_REQUEST", fields: ["query.limit"] },
  { name: "limit=0", method: "GET", path: "/events?limit=0", status: 400, code: "INVALID_REQUEST", fields: ["query.limit"] },
  { name: "limit too large", method: "GET", path: "/tasks/pending?limit=100000", status: 400, code: "INVALID_REQUEST", fields: ["query.limit"] },
  { name: "since=x", method: "GET", path: "/events?since=x", status: 400, code: "INVALID_REQUEST", fields: ["query.since"] },
  { name: "since=-5", method: "GET", path: "/events?since=-5", status: 400, code: "INVALID_REQUEST", fields: ["query.since"] },
  { name: "since=x on the stream", method: "GET", path: "/events/stream?since=x", status: 400, code: "INVALID_REQUEST", fields: ["query.since"] },
  { name: "labels without a value", method: "GET", path: "/tasks/pending?labels=pool", status: 400, code: "INVALID_REQUEST" },
  { name: "labels without a key", method: "GET", path: "/tasks/pending?labels=:gpu", status: 400, code: "INVALID_REQUEST" },
  { name: "labels with an empty pair", method: "GET", path: "/tasks/pending?labels=pool:gpu,,region:us", status: 400, code: "INVALID_REQUEST" },
  { name: "node label filter without a value", method: "GET", path: "/nodes?label=pool", status: 400, code: "INVALID_REQUEST" },
  { name: "unknown types= glob", method: "GET", path: "/events?types=foo.*", status: 400, code: "INVALID_REQUEST" },
  { name: "unknown event type", method: "GET", path: "/events?types=task.exploded", status: 400, code: "INVALID_REQUEST" },
  { name: "unknown types= glob on the stream", method: "GET", path: "/events/stream?types=nodes.*", status: 400, code: "INVALID_REQUEST" },
  { name: "unknown status filter", method: "GET", path: "/tasks?status=done", status: 400, code: "INVALID_REQUEST", fields: ["query.status"] },
  { name: "unknown node status filter", method: "GET", path: "/nodes?status=zombie", status: 400, code: "INVALID_REQUEST", fields: ["query.status"] },
  { name: "unknown query parameter", method: "GET", path: "/tasks?colour=red", status: 400, code: "INVALID_REQUEST" },
  { name: "wait_seconds over 300 on pending", method: "GET", path: "/tasks/pending?wait_seconds=301", status: 400, code: "INVALID_REQUEST", fields: ["query.wait_seconds"] },
  { name: "bad message status filter", method: "GET", path: "/messages?status=read", status: 400, code: "INVALID_REQUEST", fields: ["query.status"] },
  // ---- headers and path parameters
  { name: "Last-Event-ID abc", method: "GET", path: "/events/stream", headers: { "last-event-id": "abc" }, status: 400, code: "INVALID_REQUEST" },
  { name: "Last-Event-ID -1", method: "GET", path: "/events/stream", headers: { "last-event-id": "-1" }, status: 400, code: "INVALID_REQUEST" },
  { name: "Last-Event-ID 1.5", method: "GET", path: "/events/stream", headers: { "last-event-id": "1.5" }, status: 400, code: "INVALID_REQUEST" },
  { name: "task id with a space", method: "GET", path: "/tasks/a%20b", status: 400, code: "INVALID_REQUEST" },
  { name: "repo with @", method: "GET", path: "/state/my%40repo", status: 400, code: "INVALID_REQUEST" },
  { name: "badly encoded path", method: "GET", path: "/tasks/%E0%A4%A", status: 400, code: "INVALID_REQUEST" },
  { name: "unknown task id", method: "GET", path: "/tasks/task-nope", status: 404, code: "TASK_NOT_FOUND" },
  { name: "unknown node id", method: "GET", path: "/nodes/nobody", status: 404, code: "NODE_NOT_FOUND" },
  { name: "unknown message id", method: "POST", path: "/messages/msg-nope/ack", status: 404, code: "NOT_FOUND" },
  { name: "unknown registration", method: "POST", path: "/heartbeat", body: { registration_id: "reg-forged" }, status: 404, code: "REGISTRATION_NOT_FOUND" },
  // ---- authentication and roles
  { name: "no token", method: "GET", path: "/status", token: null, status: 401, code: "UNAUTHORIZED" },
  { name: "wrong token", method: "GET", path: "/tasks", token: "not-a-real-token", status: 401, code: "UNAUTHORIZED" },
  { name: "basic auth instead of bearer", method: "GET", path: "/tasks", token: null, headers: { authorization: `Basic ${Buffer.from(`x:${TOKENS.admin}`).toString("base64")}` }, status: 401, code: "UNAUTHORIZED" },
  { name: "bearer without a token", method: "POST", path: "/tasks", body: task(), token: null, headers: { authorization: "Bearer" }, status: 401, code: "UNAUTHORIZED" },
  { name: "no token on a write", method: "POST", path: "/tasks", body: task(), token: null, status: 401, code: "UNAUTHORIZED" },
  { name: "read token creating a task", method: "POST", path: "/tasks", body: task(), token: TOKENS.read, status: 403, code: "FORBIDDEN" },
  { name: "read token registering", method: "POST", path: "/register", body: { node_id: "sneaky" }, token: TOKENS.read, status: 403, code: "FORBIDDEN" },
  { name: "node token cancelling", method: "POST", path: () => `/tasks/${pendingId}/cancel`, body: {}, token: TOKENS.node, status: 403, code: "FORBIDDEN" },
];

describe("bad input", () => {
  for (const c of cases) {
    it(`${c.name}: ${c.status} ${c.code}, nothing changed`, async () => {
      const before = await snapshot(server);
      const path = typeof c.path === "function" ? c.path() : c.path;
      const body = typeof c.body === "function" ? (c.body as () => unknown)() : c.body;
      const res = await server.api(c.method, path, {
        token: c.token === undefined ? TOKENS.admin : c.token,
        body,
        raw: c.raw,
        headers: c.headers,
      });
      expect(res.status).toBeLessThan(500);
      const details = expectError(res, c.status, c.code);
      if (c.fields) {
        const named = (details.fields as Array<{ field: string }>).map((f) => f.field);
        for (const f of c.fields) expect(named).toContain(f);
      }
      if (c.status === 403 && c.code === "FORBIDDEN") expect(details.required_role).toBeTruthy();
      expect(await snapshot(server)).toEqual(before);
    });
  }

  it("a wrong token is not told apart from a missing one by anything but the message", async () => {
    const none = await server.api("GET", "/tasks", { token: null });
    const wrong = await server.api("GET", "/tasks", { token: `${TOKENS.admin}x` });
    expectError(none, 401, "UNAUTHORIZED");
    expectError(wrong, 401, "UNAUTHORIZED");
    expect(JSON.stringify(wrong.body)).not.toContain(TOKENS.admin);
  });

  it("validation errors name every bad field at once", async () => {
    const res = await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: 5, description: "", priority: "x", extra: 1 } });
    const fields = (expectError(res, 400, "INVALID_REQUEST").fields as any[]).map((f) => f.field);
    for (const f of ["body.repo", "body.description", "body.priority"]) expect(fields).toContain(f);
    // The unknown field is not an error; the answer still names it.
    expect(fields).not.toContain("body.extra");
    expect(res.headers.get("warning")).toBe('299 - "unknown field body.extra"');
  });
});

// ---- the role matrix ----------------------------------------------------

type Role = "anyone" | "read" | "node" | "admin";

interface RouteCase {
  method: string;
  /** `:pending`, `:claimed` and `:message` stand for the ids made in beforeAll. */
  path: string;
  least: Role;
  /** `own` is a registration made with the caller's token: a registration works only with its own token. */
  body?: (own: string) => unknown;
  stream?: boolean;
  /** Outside /api/v1. */
  root?: boolean;
}

const routes: RouteCase[] = [
  { method: "GET", path: "/health", least: "anyone" },
  { method: "GET", path: "/openapi.json", least: "anyone" },
  { method: "GET", path: "/status", least: "read" },
  { method: "POST", path: "/register", least: "node", body: () => ({ node_id: "matrix-node" }) },
  { method: "POST", path: "/heartbeat", least: "node", body: (own) => ({ registration_id: own }) },
  { method: "POST", path: "/deregister", least: "node", body: () => ({ registration_id: "reg-not-this-one" }) },
  { method: "GET", path: "/nodes", least: "read" },
  { method: "GET", path: "/nodes/machine-b", least: "read" },
  { method: "POST", path: "/tasks", least: "node", body: () => ({ repo: "my-repo", description: "from the matrix" }) },
  { method: "GET", path: "/tasks", least: "read" },
  { method: "GET", path: "/tasks/pending?labels=pool:gpu", least: "read" },
  { method: "GET", path: "/tasks/:pending", least: "read" },
  { method: "POST", path: "/tasks/:pending/claim", least: "node", body: (own) => ({ registration_id: own, worker_name: "w" }) },
  { method: "POST", path: "/tasks/claim", least: "node", body: (own) => ({ registration_id: own, worker_name: "w" }) },
  { method: "POST", path: "/tasks/:claimed/complete", least: "node", body: (own) => ({ registration_id: own }) },
  { method: "POST", path: "/tasks/:claimed/fail", least: "node", body: (own) => ({ registration_id: own, reason: "x" }) },
  { method: "POST", path: "/tasks/:claimed/release", least: "node", body: (own) => ({ registration_id: own }) },
  { method: "POST", path: "/tasks/:pending/cancel", least: "admin", body: () => ({}) },
  { method: "GET", path: "/state/my-repo", least: "read" },
  { method: "POST", path: "/messages", least: "node", body: (own) => ({ registration_id: own, from: "a@machine-b", to: "supervisor@machine-b", body: "hi" }) },
  { method: "GET", path: "/messages?node=machine-b", least: "read" },
  { method: "POST", path: "/messages/:message/ack", least: "node", body: (own) => ({ registration_id: own }) },
  { method: "GET", path: "/events?since=0", least: "read" },
  { method: "GET", path: "/events/stream", least: "read", stream: true },
  { method: "GET", path: "/metrics", least: "read", root: true },
];

const RANK: Record<Role, number> = { anyone: -1, read: 0, node: 1, admin: 2 };
const CALLERS: Array<{ role: Role; token: string | null }> = [
  { role: "anyone", token: null },
  { role: "read", token: TOKENS.read },
  { role: "node", token: TOKENS.node },
  { role: "admin", token: TOKENS.admin },
];

async function callRoute(r: RouteCase, token: string | null): Promise<{ status: number; body: any; text: string }> {
  const path = r.path.replace(":pending", pendingId).replace(":claimed", claimedId).replace(":message", messageId);
  const url = `${server.url}${r.root ? "" : "/api/v1"}${path}`;
  if (r.stream) {
    const c = await openEventStream(url, { token });
    if (c.status === 200) {
      c.close();
      return { status: 200, body: undefined, text: "" };
    }
    await c.ended;
    return { status: c.status, body: JSON.parse(c.body), text: c.body };
  }
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const body = r.body ? JSON.stringify(r.body(token === TOKENS.admin ? adminReg : reg)) : undefined;
  if (body) headers["content-type"] = "application/json";
  const res = await fetch(url, { method: r.method, headers, body });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

describe("role matrix over every route of DESIGN section 5", () => {
  for (const r of routes) {
    for (const caller of CALLERS) {
      const allowed = RANK[caller.role] >= RANK[r.least];
      const label = `${r.method} ${r.path} as ${caller.role}`;
      it(`${label}: ${allowed ? "allowed" : caller.role === "anyone" ? "401" : "403"}`, async () => {
        const before = allowed ? undefined : await snapshot(server);
        const res = await callRoute(r, caller.token);
        expect(res.status).toBeLessThan(500);
        if (allowed) {
          // Past authentication: whatever the answer, it is not an auth refusal and the route exists.
          expect([401, 403].includes(res.status) && ["UNAUTHORIZED", "FORBIDDEN"].includes(res.body?.code)).toBe(false);
          expect(res.status === 404 && res.body?.code === "NOT_FOUND" && /no route/.test(res.body?.error)).toBe(false);
        } else {
          const expected = caller.role === "anyone" ? { status: 401, code: "UNAUTHORIZED" } : { status: 403, code: "FORBIDDEN" };
          expect({ status: res.status, code: res.body?.code }).toEqual(expected);
          expect(res.body).toMatchObject({ success: false, error: expect.any(String), details: expect.any(Object) });
          expectNoInternals({ status: res.status, body: res.body, headers: new Headers() });
          expect(await snapshot(server)).toEqual(before);
        }
      });
    }
  }
});
