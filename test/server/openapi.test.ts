/**
 * DESIGN §14: the raw OpenAPI document passes a real validator, and a scripted session that
 * calls every operation and provokes every error code checks each real answer against the schema
 * the document declares for its status (an undeclared status fails).
 */
import SwaggerParser from "@apidevtools/swagger-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../src/core/errors.js";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/config/server-limits.js";
import { createConformance, type Conformance } from "../helpers/openapi-conformance.js";
import { openRaw } from "../helpers/raw-socket.js";
import { startTestServer, TOKENS, type ApiResponse, type TestServer } from "../helpers/test-server.js";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createWebhookService } from "../../src/webhooks/index.js";

/** Codes in the table that no route answers (INTERNAL would be a bug). */
const NEVER_ANSWERED = new Set(["INTERNAL", "METHOD_NOT_ALLOWED", "MESSAGE_NOT_FOUND"]);

const OTHER_NODE_TOKEN = "other-fleet-node-token";
let server: TestServer;
let receiver: Receiver;
let doc: any;
let conformance: Conformance;
const seenOps = new Set<string>();
const seenCodes = new Set<string>();

beforeAll(async () => {
  const tokens = [
    { token: TOKENS.admin, role: "admin" as const, name: "admin" },
    { token: TOKENS.node, role: "node" as const, name: "node" },
    { token: TOKENS.read, role: "read" as const, name: "reader" },
    { token: OTHER_NODE_TOKEN, role: "node" as const, name: "other-fleet" },
  ];
  // A short body timeout, so the session sees a 408 without waiting long.
  const connections = { ...DEFAULT_CONNECTION_LIMITS, headers_timeout_ms: 1500, body_timeout_ms: 1500 };
  receiver = await startReceiver();
  const store = createMemoryStore();
  const webhooks = createWebhookService({ store, webhooks: [{ name: "ci", url: receiver.url, format: "json", from: "end" }] });
  // One waiting dependent per task, so the session sees a 409 TOO_MANY_DEPENDENTS cheaply.
  server = await startTestServer({ store, maxDependents: 1, app: { maxStreamsPerToken: 1, auth: { required: true, tokens }, connections, webhooks } });
  const res = await fetch(`${server.url}/api/v1/openapi.json`);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  doc = await res.json();
  conformance = createConformance(doc);
});
afterAll(async () => {
  await server.close();
  await receiver.close();
});

function record(method: string, path: string, status: number, contentType: string | null, body: string): void {
  const { problems, operationId } = conformance.check({ method, path: path.split("?")[0]!, status, contentType, body });
  expect(problems, `${method} ${path}`).toEqual([]);
  if (operationId && status < 300) seenOps.add(operationId);
  if (status >= 400) seenCodes.add((JSON.parse(body) as { code: string }).code);
}

/** One API call of the session, checked against the document. */
async function call(method: string, path: string, opts: Parameters<TestServer["api"]>[2] = {}): Promise<ApiResponse> {
  const res = await server.api(method, path, opts);
  record(method, `/api/v1${path}`, res.status, res.headers.get("content-type"), typeof res.body === "string" ? res.body : JSON.stringify(res.body));
  return res;
}

/** A request no HTTP client would send, over a plain socket: the HTTP layer's refusals. */
async function socket(path: string, request: string): Promise<number> {
  const c = await openRaw(server.url);
  c.send(request);
  await c.closed;
  const head = c.received.slice(0, c.received.indexOf("\r\n\r\n"));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const type = /^content-type: (.*)$/im.exec(head)?.[1] ?? null;
  record(request.split(" ")[0]!, path, status, type, c.received.slice(c.received.indexOf("\r\n\r\n") + 4));
  return status;
}

/** A raw call (streams, /metrics): only status and headers are read for streams. */
async function raw(path: string, init: RequestInit & { stream?: boolean } = {}): Promise<Response> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}${path}`, { ...init, signal: controller.signal });
  const streaming = res.headers.get("content-type")?.startsWith("text/event-stream");
  const body = streaming ? "" : await res.text();
  record(init.method ?? "GET", path, res.status, res.headers.get("content-type"), body);
  if (streaming && !init.stream) controller.abort();
  return res;
}

const node = { token: TOKENS.node };
const read = { token: TOKENS.read };
const expectCode = (res: ApiResponse, status: number, code: string) => expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([status, code]);

describe("the OpenAPI document", () => {
  it("passes swagger-parser's validation", async () => {
    const api = (await SwaggerParser.validate(structuredClone(doc))) as any;
    expect(api.openapi).toBe("3.1.0");
  });

  it("has info, license, servers, and an operationId on every operation", () => {
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String), license: { name: "MIT" } });
    expect(doc.servers).toEqual([expect.objectContaining({ url: "/api/v1" })]);
    const ids = Object.values(doc.paths).flatMap((item: any) => Object.values(item).flatMap((op: any) => (op?.responses ? [op.operationId] : [])));
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("declares public routes with security: [] and 401 on every other", () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!op?.responses) continue;
        // Sign-out works without a session too (it then only clears the cookie); GET /session says whether one is signed in.
        if (["/health", "/ready", "/openapi.json"].includes(path) || ["delete /session", "get /session"].includes(`${method} ${path}`)) expect(op.security, path).toEqual([]);
        else expect(Object.keys(op.responses), `${method} ${path}`).toContain("401");
      }
    }
  });

  it("declares the 409s of a claim with their codes, and 413/415 on bodies", () => {
    const claim = doc.paths["/tasks/{id}/claim"].post.responses;
    expect(claim["409"].content["application/json"].schema.properties.code.enum).toEqual(
      expect.arrayContaining(["TASK_CLAIMED", "NODE_AT_CAPACITY", "LABELS_NOT_SATISFIED", "NODE_OFFLINE", "TASK_NOT_CLAIMABLE"]),
    );
    expect(Object.keys(claim)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "404", "409", "413", "415", "429", "503"]));
    expect(Object.keys(doc.paths["/health"].get.responses)).not.toContain("201");
  });

  it("documents the event stream as 200 text/event-stream with a Last-Event-ID header", () => {
    const op = doc.paths["/events/stream"].get;
    expect(Object.keys(op.responses["200"].content)).toEqual(["text/event-stream"]);
    expect(op.parameters).toContainEqual(expect.objectContaining({ in: "header", name: "Last-Event-ID" }));
  });

  it("fails an answer whose status the document does not declare, or whose body is off its schema", () => {
    const envelope = JSON.stringify({ success: false, error: "x", code: "TASK_CLAIMED", details: {} });
    const undeclared = conformance.check({ method: "GET", path: "/api/v1/health", status: 409, contentType: "application/json", body: envelope });
    expect(undeclared.problems[0]).toMatch(/getHealth\) answered 409 TASK_CLAIMED, which its OpenAPI document does not declare/);
    const offSchema = conformance.check({ method: "GET", path: "/api/v1/health", status: 200, contentType: "application/json", body: '{"success":true,"data":{}}' });
    expect(offSchema.problems[0]).toMatch(/does not match its declared schema/);
    const wrongCode = conformance.check({ method: "GET", path: "/api/v1/tasks/t-1", status: 404, contentType: "application/json", body: envelope });
    expect(wrongCode.problems[0]).toMatch(/code must be equal to one of the allowed values/);
  });
});

describe("a scripted session: every operation, every error code, each answer checked", () => {
  it("runs", async () => {
    await call("GET", "/health", { token: null });
    await call("GET", "/ready", { token: null });
    await raw("/api/v1/openapi.json");
    expectCode(await call("GET", "/status", { token: null }), 401, "UNAUTHORIZED");
    await call("GET", "/status", read);

    expectCode(await call("POST", "/register", { ...read, body: { node_id: "gpu-1" } }), 403, "FORBIDDEN");
    const regA = (await call("POST", "/register", { ...node, body: { node_id: "gpu-1", labels: { pool: "gpu" }, capacity: { max_workers: 2 } } })).body.data.registration_id;
    const regB = (await call("POST", "/register", { ...node, body: { node_id: "cpu-1", capacity: { max_workers: 1 } } })).body.data.registration_id;
    expectCode(await call("POST", "/register", { token: OTHER_NODE_TOKEN, body: { node_id: "cpu-1" } }), 409, "NODE_OWNED");
    expectCode(await call("POST", "/heartbeat", { ...node, body: { registration_id: "reg-gone" } }), 404, "REGISTRATION_NOT_FOUND");
    const agents = [{ name: "worker-1", type: "worker", status: "running", repo: "repo-1" }];
    await call("POST", "/heartbeat", { ...node, body: { registration_id: regA, agents, repos: [{ name: "repo-1", active_prs: 1 }] } });
    // A field that may be null (a type list in the schema) names both types in words.
    const badNullable = await call("POST", "/heartbeat", { ...node, body: { registration_id: regA, agents: [{ ...agents[0], task: 5 }] } });
    expectCode(badNullable, 400, "INVALID_REQUEST");
    expect(badNullable.body.details.fields).toEqual([{ field: "body.agents.0.task", message: "must be a string or null" }]);

    const t1 = (await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "gpu work", labels: { pool: "gpu" }, idempotency_key: "k1" } })).body.data.id;
    expect((await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "gpu work", labels: { pool: "gpu" }, idempotency_key: "k1" } })).status).toBe(200);
    expectCode(await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "other", idempotency_key: "k1" } }), 409, "IDEMPOTENCY_CONFLICT");
    expectCode(await call("POST", "/tasks", { ...node, raw: "repo=x", headers: { "content-type": "text/plain" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    const huge = JSON.stringify({ repo: "repo-1", description: "x".repeat(1_100_000) });
    expectCode(await call("POST", "/tasks", { ...node, raw: huge, headers: { "content-type": "application/json" } }), 413, "PAYLOAD_TOO_LARGE");
    const badEnum = await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "d", priority: "urgent" } });
    expectCode(badEnum, 400, "INVALID_REQUEST");
    expect(badEnum.body.details.fields).toEqual([{ field: "body.priority", message: "must be one of critical, high, medium, low" }]);

    // depends_on: a waiting task (its schema fields checked), a dependency that does not exist, one with no room.
    expect((await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "after", depends_on: [t1] } })).body.data).toMatchObject({ status: "waiting", blocked_by: [t1] });
    expectCode(await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "after", depends_on: ["task-missing"] } }), 404, "TASK_NOT_FOUND");
    // This server allows one waiting dependent per task (maxDependents: 1): t1 has it.
    const crowded = await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "after too", depends_on: [t1] } });
    expectCode(crowded, 409, "TOO_MANY_DEPENDENTS");
    expect(crowded.body.details).toMatchObject({ task_id: t1, limit: 1 });

    // The batch create: one created flag per item; a repeat answers 200; the first bad item is named.
    const tape = { repo: "repo-batch", labels: { pool: "tape" } };
    const batch = await call("POST", "/tasks/batch", { ...node, body: { tasks: [{ ...tape, description: "b1", idempotency_key: "kb1" }, { ...tape, description: "b2" }] } });
    expect([batch.status, batch.body.data.created]).toEqual([201, [true, true]]);
    const again = await call("POST", "/tasks/batch", { ...node, body: { tasks: [{ ...tape, description: "b1", idempotency_key: "kb1" }] } });
    expect([again.status, again.body.data.created, again.body.data.tasks[0].id]).toEqual([200, [false], batch.body.data.tasks[0].id]);
    const conflict = await call("POST", "/tasks/batch", { ...node, body: { tasks: [{ ...tape, description: "b3" }, { ...tape, description: "not b1", idempotency_key: "kb1" }] } });
    expectCode(conflict, 409, "IDEMPOTENCY_CONFLICT");
    expect(conflict.body.details.index).toBe(1);
    const badItem = await call("POST", "/tasks/batch", { ...node, body: { tasks: [{ ...tape, description: "b4" }, { description: "no repo" }, { repo: "" }] } });
    expectCode(badItem, 400, "INVALID_REQUEST");
    expect([badItem.body.details.index, badItem.body.details.fields]).toEqual([1, [{ field: "body.tasks[1].repo", message: "must have required property 'repo'" }]]);
    expectCode(await call("POST", "/tasks/batch", { ...read, body: { tasks: [{ ...tape, description: "b5" }] } }), 403, "FORBIDDEN");
    const tooBig = JSON.stringify({ tasks: [{ repo: "repo-batch", description: "x".repeat(9 * 1024 * 1024) }] });
    const tooLarge = await call("POST", "/tasks/batch", { ...node, raw: tooBig, headers: { "content-type": "application/json" } });
    expectCode(tooLarge, 413, "PAYLOAD_TOO_LARGE");
    expect(tooLarge.body.details.limit_bytes).toBe(8 * 1024 * 1024);

    await call("GET", "/tasks?repo=repo-1", read);
    await call("GET", "/tasks/pending?labels=pool:gpu", read);
    await call("GET", `/tasks/${t1}`, read);
    expectCode(await call("GET", "/tasks/task-missing", read), 404, "TASK_NOT_FOUND");

    expectCode(await call("POST", `/tasks/${t1}/claim`, { ...node, body: { registration_id: regB, worker_name: "w1" } }), 409, "LABELS_NOT_SATISFIED");
    await call("POST", `/tasks/${t1}/claim`, { ...node, body: { registration_id: regA, worker_name: "worker-1" } });
    const lost = await call("POST", `/tasks/${t1}/claim`, { ...node, body: { registration_id: regA, worker_name: "worker-2" } });
    expectCode(lost, 409, "TASK_CLAIMED");
    expect(lost.body.details.claimed_by).toBe("worker-1@gpu-1");

    const t2 = (await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "any node" } })).body.data.id;
    expect((await call("POST", "/tasks/claim", { ...node, body: { registration_id: regB, worker_name: "w1" } })).body.data.task.id).toBe(t2);
    expectCode(await call("POST", "/tasks/claim", { ...node, body: { registration_id: regB, worker_name: "w2" } }), 409, "NODE_AT_CAPACITY");

    expectCode(await call("POST", `/tasks/${t1}/complete`, { ...node, body: { registration_id: regB, pr: "#1" } }), 403, "NOT_CLAIMANT");
    await call("POST", `/tasks/${t1}/complete`, { ...node, body: { registration_id: regA, pr: "#1", summary: "done" } });
    expectCode(await call("POST", `/tasks/${t1}/claim`, { ...node, body: { registration_id: regA, worker_name: "worker-1" } }), 409, "TASK_NOT_CLAIMABLE");
    // A retried failure waits for tasks.retry_backoff (30 s) before it can be claimed again.
    expect((await call("POST", `/tasks/${t2}/fail`, { ...node, body: { registration_id: regB, reason: "flaky", retry: true } })).body.data.status).toBe("waiting");
    const t4 = (await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "given back" } })).body.data.id;
    await call("POST", `/tasks/${t4}/claim`, { ...node, body: { registration_id: regB, worker_name: "w1" } });
    await call("POST", `/tasks/${t4}/release`, { ...node, body: { registration_id: regB } });
    await call("POST", `/tasks/${t2}/cancel`, { body: { reason: "not needed" } });

    await call("POST", "/heartbeat", { ...node, body: { registration_id: regA, status: "draining" } });
    const t3 = (await call("POST", "/tasks", { ...node, body: { repo: "repo-1", description: "while draining" } })).body.data.id;
    expectCode(await call("POST", `/tasks/${t3}/claim`, { ...node, body: { registration_id: regA, worker_name: "w3" } }), 409, "NODE_OFFLINE");
    await call("POST", "/heartbeat", { ...node, body: { registration_id: regA, status: "healthy", agents } });
    await call("POST", "/nodes/gpu-1/cordon");
    expectCode(await call("POST", `/tasks/${t3}/claim`, { ...node, body: { registration_id: regA, worker_name: "w3" } }), 409, "NODE_CORDONED");
    expect((await call("POST", "/nodes/gpu-1/uncordon")).body.data.cordoned).toBe(false);
    const keyed = { repo: "repo-1", description: "migrate", concurrency_key: "db-migrations" };
    const k1 = (await call("POST", "/tasks", { ...node, body: keyed })).body.data;
    expect(k1).toMatchObject({ concurrency_key: "db-migrations", concurrency_limit: 1 });
    const k2 = (await call("POST", "/tasks", { ...node, body: keyed })).body.data.id;
    await call("POST", `/tasks/${k1.id}/claim`, { ...node, body: { registration_id: regA, worker_name: "w4" } });
    const full = await call("POST", `/tasks/${k2}/claim`, { ...node, body: { registration_id: regA, worker_name: "w5" } });
    expectCode(full, 409, "CONCURRENCY_LIMIT");
    expect(full.body.details).toMatchObject({ concurrency_key: "db-migrations", concurrency_limit: 1, claimed: 1 });
    expectCode(await call("POST", "/nodes/nobody/cordon"), 404, "NODE_NOT_FOUND");
    expect((await call("POST", `/tasks/${t2}/retry`)).body.data).toMatchObject({ status: "pending", attempts: 0 });
    expectCode(await call("POST", `/tasks/${t2}/retry`), 409, "TASK_NOT_RETRYABLE");

    await call("GET", "/nodes?status=online", read);
    await call("GET", "/nodes/gpu-1", read);
    expectCode(await call("GET", "/nodes/nobody", read), 404, "NODE_NOT_FOUND");
    await call("GET", "/state/repo-1", read);

    const msg = (await call("POST", "/messages", { body: { from: "supervisor@cpu-1", to: "worker-1", repo: "repo-1", body: "hi" } })).body.data.id;
    expectCode(await call("POST", "/messages", { body: { from: "supervisor@cpu-1", to: "ghost", repo: "repo-1", body: "hi" } }), 404, "AGENT_NOT_FOUND");
    await call("GET", "/messages?node=gpu-1", read);
    expectCode(await call("POST", `/messages/${msg}/ack`, { ...node, body: { registration_id: regB } }), 403, "NOT_RECIPIENT");
    await call("POST", `/messages/${msg}/ack`, { ...node, body: { registration_id: regA } });
    expectCode(await call("POST", "/messages/msg-missing/ack", {}), 404, "NOT_FOUND");

    await call("GET", "/events?since=0&limit=5", read);
    const auth = { authorization: `Bearer ${TOKENS.read}` };
    const stream = await raw("/api/v1/events/stream", { headers: { ...auth, "last-event-id": "3" }, stream: true });
    expect(stream.status).toBe(200);
    expect((await raw("/api/v1/events/stream", { headers: auth })).status).toBe(429); // one stream per token in this server
    await stream.body?.cancel();
    expect((await raw("/api/v1/events/stream", { headers: { ...auth, "last-event-id": "x" } })).status).toBe(400);
    expect((await raw("/metrics", { headers: auth })).status).toBe(200);

    // Dashboard sessions (DESIGN §13): sign in, read with the cookie, a mutation without the CSRF token, sign out.
    const signIn = await call("POST", "/session", read);
    const cookie = { token: null, headers: { cookie: signIn.headers.get("set-cookie")!.split(";")[0]! } };
    expect((await call("GET", "/session", cookie)).body.data.role).toBe("read");
    expectCode(await call("DELETE", "/session", cookie), 403, "CSRF_TOKEN_INVALID");
    await call("DELETE", "/session", { ...cookie, headers: { ...cookie.headers, "x-csrf-token": signIn.body.data.csrf_token } });

    await call("GET", "/webhooks");
    await call("POST", "/webhooks/ci/test");
    expectCode(await call("POST", "/webhooks/nope/test"), 404, "NOT_FOUND");

    await call("POST", "/deregister", { ...node, body: { registration_id: regB } });
    expectCode(await call("POST", "/deregister", { ...node, body: { registration_id: regB } }), 404, "REGISTRATION_NOT_FOUND");
    expectCode(await call("DELETE", "/nodes/cpu-1", node), 403, "FORBIDDEN");
    await call("DELETE", "/nodes/cpu-1");
    expectCode(await call("DELETE", "/nodes/cpu-1"), 404, "NODE_NOT_FOUND");
    expectCode(await call("GET", "/no-such-route", read), 404, "NOT_FOUND");
    expectCode(await call("GET", `/tasks?repo=${"r".repeat(9000)}`, read), 414, "URI_TOO_LONG");
    const bearer = `Authorization: Bearer ${TOKENS.node}\r\n`;
    const slowBody = `POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\n${bearer}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"repo":`;
    expect(await socket("/api/v1/tasks", slowBody)).toBe(408);
    expect(await socket("/api/v1/status", `GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ${"h".repeat(20_000)}\r\n\r\n`)).toBe(431);

    await server.coordinator.stop();
    const gone = await raw("/api/v1/events/stream", { headers: auth });
    expect(gone.status).toBe(503);

    const ops = Object.values<any>(doc.paths).flatMap((item) => Object.values<any>(item).flatMap((op) => (op?.operationId ? [op.operationId] : [])));
    expect(ops.filter((id) => !seenOps.has(id)), "operations the session never called successfully: add a step above").toEqual([]);
    const codes = Object.keys(ERROR_STATUS).filter((c) => !NEVER_ANSWERED.has(c));
    expect(codes.filter((c) => !seenCodes.has(c)), "error codes the session never provoked: add a step above").toEqual([]);
  });
});
