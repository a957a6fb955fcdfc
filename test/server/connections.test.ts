import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../../src/config/server-limits.js";
import { openFileWarning } from "../../src/server/connections.js";
import { openRaw, responseBody, type RawConnection } from "../helpers/raw-socket.js";
import { openEventStream } from "../helpers/sse-client.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer | undefined;
const raws: RawConnection[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.socket.destroy();
  await server?.close();
  server = undefined;
});

/** Short timeouts, so the tests see them act. */
const SHORT: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, headers_timeout_ms: 400, body_timeout_ms: 800, idle_timeout_ms: 600 };

async function start(connections: Partial<ConnectionLimits>, fastify: Record<string, unknown> = {}): Promise<TestServer> {
  server = await startTestServer({ app: { connections: { ...SHORT, ...connections }, fastify } });
  return server;
}

async function raw(): Promise<RawConnection> {
  const r = await openRaw(server!.url);
  raws.push(r);
  return r;
}

const health = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";

describe("socket timeouts (issue 11, defect 2)", () => {
  it("a body announced as 100,000 bytes that never arrives is answered 408 in the envelope and closed within the body timeout", async () => {
    await start({});
    const c = await raw();
    c.send(`POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.node}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"repo":`);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(SHORT.body_timeout_ms - 100);
    expect(ms).toBeLessThan(SHORT.body_timeout_ms + 5000);
    expect(c.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(responseBody(c.received)).toMatchObject({ success: false, code: "REQUEST_TIMEOUT" });
  });

  it("a connection that sends no complete headers is closed within the headers timeout", async () => {
    await start({ body_timeout_ms: 60_000 });
    const silent = await raw();
    const partial = await raw();
    partial.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    for (const c of [silent, partial]) expect(await c.closed).toBeLessThan(SHORT.headers_timeout_ms + 5000);
  });

  it("an idle keep-alive connection is closed after the idle timeout, not before it was used", async () => {
    await start({});
    const c = await raw();
    c.send(health);
    await c.waitFor(/"status":"ok"/);
    const answered = Date.now();
    await c.closed;
    expect(Date.now() - answered).toBeGreaterThanOrEqual(SHORT.idle_timeout_ms - 100);
  });

  it("long polls and event streams outlive the timeouts", async () => {
    const s = await start({});
    const reg = await registerNode(s, "n1");
    const stream = await openEventStream(`${s.url}/api/v1/events/stream`, { token: TOKENS.read });
    const started = Date.now();
    const poll = await s.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: reg, worker_name: "w", wait_seconds: 2 } });
    expect(poll.status).toBe(200);
    expect(poll.body.data.task).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    // The stream has been open for more than twice the body timeout and still delivers.
    const task = await createTask(s, {});
    const [event] = await stream.waitForEvents(1);
    expect(event!.data.task_id).toBe(task.id);
    expect(stream.isEnded).toBe(false);
    stream.close();
  });
});

/** Opens `n` connections that each got an answer, then checks that one more is closed at once, unanswered. */
async function fillUp(caps: Partial<ConnectionLimits>, n: number): Promise<RawConnection[]> {
  await start({ ...caps, idle_timeout_ms: 60_000, headers_timeout_ms: 60_000, body_timeout_ms: 60_000 });
  const open = [];
  for (let i = 0; i < n; i++) {
    const c = await raw();
    c.send(health);
    await c.waitFor(/"status":"ok"/);
    open.push(c);
  }
  const refused = await raw();
  expect(await refused.closed).toBeLessThan(5000);
  expect(refused.received).toBe("");
  return open;
}

describe("connection caps (issue 11, defect 2)", () => {
  it("past max_connections new sockets are closed at once while the open ones keep working", async () => {
    const open = await fillUp({ max_connections: 4 }, 4);
    open[0]!.send(health);
    await open[0]!.waitFor(/"status":"ok"[\s\S]*"status":"ok"/);
    // A closed connection frees its place.
    open[1]!.socket.destroy();
    await open[1]!.closed;
    await waitUntil(async () => {
      const again = await raw();
      again.send(health);
      return again.waitFor(/"status":"ok"/, 1000).then(
        () => true,
        () => false,
      );
    });
  });

  it("past max_connections_per_address sockets from that address are closed at once", async () => {
    const open = await fillUp({ max_connections_per_address: 3 }, 3);
    open[2]!.send(health);
    await open[2]!.waitFor(/"status":"ok"[\s\S]*"status":"ok"/);
  });

  it("under trust_proxy the per-address cap counts the real client's requests in flight (429 past it)", async () => {
    const s = await start({ max_connections_per_address: 2 }, { trustProxy: true });
    const reg = await registerNode(s, "n1");
    const poll = (client: string) =>
      s.api("POST", "/tasks/claim", {
        token: TOKENS.node,
        headers: { "x-forwarded-for": client },
        body: { registration_id: reg, worker_name: "w", wait_seconds: 3 },
      });
    const held = [poll("203.0.113.5"), poll("203.0.113.5")];
    await waitUntil(async () => (await poll("203.0.113.5")).status === 429);
    const third = await s.api("GET", "/health", { headers: { "x-forwarded-for": "203.0.113.5" } });
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ success: false, code: "RATE_LIMITED", details: { limit: 2 } });
    expect((await s.api("GET", "/health", { headers: { "x-forwarded-for": "203.0.113.6" } })).status).toBe(200);
    for (const p of await Promise.all(held)) expect(p.status).toBe(200);
    expect((await s.api("GET", "/health", { headers: { "x-forwarded-for": "203.0.113.5" } })).status).toBe(200);
  });

  it("serve's warning names the open-file limit and how to raise it", () => {
    expect(openFileWarning(20_000, 1024)).toMatch(/open-file limit is 1024, below server\.max_connections \(20000\) \+ 256.*ulimit -n 20256.*LimitNOFILE=20256/);
    expect(openFileWarning(20_000, 65_536)).toBeUndefined();
  });
});

describe("parser errors are answered in the envelope (issue 11, defect 8)", () => {
  it("a 20,000-character URL gets 431, a 10,000-character one 414, a malformed request line 400", async () => {
    await start({});
    const huge = await raw();
    huge.send(`GET /api/v1/tasks?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await huge.closed;
    expect(huge.received).toMatch(/^HTTP\/1\.1 431 /);
    expect(responseBody(huge.received)).toMatchObject({ success: false, code: "HEADERS_TOO_LARGE", details: {} });

    const long = await raw();
    long.send(`GET /api/v1/tasks?x=${"a".repeat(10_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await long.waitFor(/\r\n\r\n\{.*\}/);
    expect(long.received).toMatch(/^HTTP\/1\.1 414 /);
    expect(responseBody(long.received)).toMatchObject({ success: false, code: "URI_TOO_LONG" });

    const bad = await raw();
    bad.send("NOT A REQUEST\r\n\r\n");
    await bad.closed;
    expect(bad.received).toMatch(/^HTTP\/1\.1 400 /);
    expect(responseBody(bad.received)).toMatchObject({ success: false, code: "INVALID_REQUEST" });
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
