import { createServer as createTcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, Client, ConnectionError } from "../../src/index.js";
import { ADMIN, NODE, READ, startInterceptingProxy, startTestServer } from "./server.js";

let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: Client[] = [];

function client(token = ADMIN, extra: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const c = new Client({ url: server.url, token, ...extra });
  clients.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

describe("Client against a real coordinator", () => {
  it("does the PRD flow: register, heartbeat, pending tasks, claim, complete", async () => {
    const admin = client();
    const node = client(NODE);
    const reg = await node.register({ node_id: "machine-b", hostname: "wp1", capacity: { max_workers: 2 }, labels: { pool: "gpu" } });
    expect(reg.registration_id).toEqual(expect.any(String));
    expect(node.registrationId).toBe(reg.registration_id);
    expect(await node.heartbeat({ status: "healthy", agents: [{ name: "worker-1", type: "worker", status: "running" }] })).toMatchObject({
      pending_messages: 0,
      cancelled_task_ids: [],
    });
    const task = await admin.createTask({ repo: "my-repo", description: "GPU work", priority: "high", labels: { pool: "gpu" } });
    expect((await node.getPendingTasks({ pool: "gpu" })).map((t) => t.id)).toContain(task.id);
    expect((await node.getPendingTasks({ pool: "cpu" })).map((t) => t.id)).not.toContain(task.id);
    const claimed = await node.claimTask(task.id, "worker-3");
    expect(claimed).toMatchObject({ status: "claimed", claimed_by: "worker-3@machine-b" });
    const done = await node.completeTask(task.id, { pr: "#42", summary: "done" });
    expect(done).toMatchObject({ status: "completed", result: { pr: "#42", summary: "done" } });
    expect((await admin.getTask(task.id)).status).toBe("completed");
    expect((await admin.listNodes({ labels: { pool: "gpu" } })).map((n) => n.id)).toContain("machine-b");
  });

  it("throws ApiError with status, code and details (TASK_CLAIMED names the winner)", async () => {
    const admin = client();
    const a = client(NODE);
    const b = client(NODE);
    await a.register({ node_id: "node-a" });
    await b.register({ node_id: "node-b" });
    const task = await admin.createTask({ repo: "r", description: "race" });
    await a.claimTask(task.id, "w");
    const err = await rejection(b.claimTask(task.id, "w"));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: "TASK_CLAIMED", details: { claimed_by: "w@node-a" } });
    expect(await rejection(admin.getTask("task-nope"))).toMatchObject({ status: 404, code: "TASK_NOT_FOUND" });
    expect(await rejection(client("wrong").status())).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(await rejection(client(READ).cancelTask(task.id))).toMatchObject({ status: 403, code: "FORBIDDEN" });
    expect(await rejection(b.completeTask(task.id))).toMatchObject({ status: 403, code: "NOT_CLAIMANT" });
  });

  it("claimNext waits for a task (long poll beyond the normal timeout) and returns null when none came", async () => {
    const admin = client();
    const node = client(NODE, { timeoutMs: 300 });
    await node.register({ node_id: "waiter", labels: { pool: "wait" } });
    const started = Date.now();
    expect(await node.claimNext({ workerName: "w", waitSeconds: 1 })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const pending = node.claimNext({ workerName: "w", waitSeconds: 10 });
    await new Promise((r) => setTimeout(r, 100));
    const task = await admin.createTask({ repo: "r", description: "wanted", labels: { pool: "wait" } });
    expect((await pending)?.id).toBe(task.id);
  });

  it("re-registers by itself when the coordinator forgot the registration", async () => {
    const seen: string[] = [];
    const node = client(NODE, { onRegistered: (r) => seen.push(r.id) });
    const first = await node.register({ node_id: "flaky", labels: { pool: "x" } });
    // A second registration of the same node (a restarted daemon) makes the first one stale.
    await client(NODE).register({ node_id: "flaky", labels: { pool: "x" } });
    const res = await node.heartbeat({ status: "healthy" });
    expect(res.status).toBeDefined();
    expect(node.registrationId).not.toBe(first.registration_id);
    expect(seen).toEqual([first.registration_id, node.registrationId]);
  });

  it("an idempotency key returns the same task", async () => {
    const admin = client();
    const a = await admin.createTask({ repo: "r", description: "once", idempotency_key: "k-1" });
    const b = await admin.createTask({ repo: "r", description: "once", idempotency_key: "k-1" });
    expect(b.id).toBe(a.id);
  });

  it("messages: send to agent@node, list, ack twice", async () => {
    const admin = client();
    const node = client(NODE);
    await node.register({ node_id: "mail" });
    const msg = await admin.sendMessage({ from: "supervisor@lead", to: "worker-1@mail", body: "hello" });
    expect((await admin.listMessages({ node: "mail" })).map((m) => m.id)).toContain(msg.id);
    expect((await node.ackMessage(msg.id)).status).toBe("acked");
    expect((await node.ackMessage(msg.id)).status).toBe("acked");
    expect(await rejection(admin.sendMessage({ from: "a@b", to: "ghost", repo: "nope", body: "x" }))).toMatchObject({ code: "AGENT_NOT_FOUND" });
  });

  it("status, state and the event log", async () => {
    const admin = client();
    const status = await admin.status();
    expect(status.store).toBe("memory");
    expect(status.last_event_id).toBeGreaterThan(0);
    expect(await admin.getState("my-repo")).toMatchObject({ repo: "my-repo", pending_tasks: expect.any(Number) });
    const page = await admin.readEvents({ since: 0, types: ["task.completed"] });
    expect(page.events.length).toBeGreaterThan(0);
    expect(page.events.every((e) => e.type === "task.completed")).toBe(true);
    const last = (await admin.status()).last_event_id;
    expect(page).toMatchObject({ oldest_id: 1, last_event_id: last, reset: false, next: last });
    // An id this log never gave (the client saw a coordinator that restarted on memory://).
    expect(await admin.readEvents({ since: last + 1000 })).toEqual({ events: [], oldest_id: 1, last_event_id: last, reset: true, next: last + 1000 });
  });
});

describe("Client when things go wrong on the wire", () => {
  it("a closed port is UNREACHABLE (after retrying)", async () => {
    const tcp = createTcpServer();
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const port = (tcp.address() as { port: number }).port;
    await new Promise<void>((r) => tcp.close(() => r()));
    const c = new Client({ url: `http://127.0.0.1:${port}`, retries: 1 });
    clients.push(c);
    const err = await rejection(c.status());
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: "UNREACHABLE" });
  });

  it("a server that never answers is a TIMEOUT, and is not retried", async () => {
    let requests = 0;
    const sockets = new Set<import("node:net").Socket>();
    const tcp = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("data", () => requests++);
    });
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const c = new Client({ url: `http://127.0.0.1:${(tcp.address() as { port: number }).port}`, timeoutMs: 200 });
    clients.push(c);
    const started = Date.now();
    expect(await rejection(c.status())).toMatchObject({ name: "ConnectionError", code: "TIMEOUT" });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(requests).toBe(1);
    await c.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => tcp.close(() => r()));
  });

  it("resends a plain create on 429, and on 503 only when the server says retry_safe; never after a lost answer", async () => {
    const unavailable = (details: Record<string, unknown>) => ({
      status: 503,
      headers: { "retry-after": "0" },
      body: JSON.stringify({ success: false, error: "store unavailable", code: "UNAVAILABLE", details }),
    });
    const limited = { status: 429, headers: { "retry-after": "0" }, body: JSON.stringify({ success: false, error: "slow down", code: "RATE_LIMITED", details: {} }) };
    // Per description: what the proxy does to the first attempt (later ones pass).
    const first: Record<string, "refuse-503-safe" | "refuse-429" | "commit-then-503" | "commit-then-hang-up"> = {
      "refused while shutting down": "refuse-503-safe",
      "rate limited": "refuse-429",
      "committed, then the store failed": "commit-then-503",
      "keyed: committed, then the store failed": "commit-then-503",
      "committed, answer lost": "commit-then-hang-up",
    };
    const seen = new Map<string, number>();
    const proxy = await startInterceptingProxy(server.port, async (req, forward) => {
      const description = req.body ? (JSON.parse(req.body) as { description?: string }).description : undefined;
      const attempt = (seen.get(description ?? "") ?? 0) + 1;
      seen.set(description ?? "", attempt);
      const what = description !== undefined && attempt === 1 ? first[description] : undefined;
      if (what === "refuse-503-safe") return unavailable({ retry_safe: true });
      if (what === "refuse-429") return limited;
      const reply = await forward();
      if (what === "commit-then-503") return unavailable({});
      if (what === "commit-then-hang-up") return "hang-up";
      return reply;
    });
    const c = new Client({ url: proxy.url, token: ADMIN });
    const repo = `retry-${Date.now()}`;
    const created = async () => (await client().listTasks({ repo, limit: 100 })).tasks.map((t) => t.description).sort();
    try {
      // Refused before any work: resent, created once.
      expect(await c.createTask({ repo, description: "refused while shutting down" })).toMatchObject({ description: "refused while shutting down" });
      expect(await c.createTask({ repo, description: "rate limited" })).toMatchObject({ description: "rate limited" });
      // A 503 without retry_safe may come after the commit: a plain create is not resent.
      expect(await rejection(c.createTask({ repo, description: "committed, then the store failed" }))).toMatchObject({ status: 503, code: "UNAVAILABLE" });
      expect(await rejection(c.createTask({ repo, description: "committed, answer lost" }))).toMatchObject({ code: "UNREACHABLE" });
      // A keyed create is safe: resent, and the key returns the task the first attempt made.
      const keyed = await c.createTask({ repo, description: "keyed: committed, then the store failed", idempotency_key: `${repo}-k` });
      expect(keyed.description).toBe("keyed: committed, then the store failed");
      expect(Object.fromEntries(seen)).toMatchObject({
        "refused while shutting down": 2,
        "rate limited": 2,
        "committed, then the store failed": 1,
        "committed, answer lost": 1,
        "keyed: committed, then the store failed": 2,
      });
      expect(await created()).toEqual([
        "committed, answer lost",
        "committed, then the store failed",
        "keyed: committed, then the store failed",
        "rate limited",
        "refused while shutting down",
      ]);
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it("GETs and safe POSTs are resent on a 503 without retry_safe", async () => {
    const proxy = await startInterceptingProxy(server.port, async (req, forward) => {
      if (req.n === 2 || req.n === 4) {
        await forward();
        return { status: 503, body: JSON.stringify({ success: false, error: "store unavailable", code: "UNAVAILABLE", details: {} }) };
      }
      return forward();
    });
    const node = new Client({ url: proxy.url, token: NODE });
    try {
      await node.register({ node_id: "resent" }); // 1
      expect((await node.status()).store).toBe("memory"); // 2 (503), 3
      expect(await node.heartbeat({ status: "healthy" })).toMatchObject({ pending_messages: 0 }); // 4 (503), 5
      expect(proxy.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
        "POST /api/v1/register",
        "GET /api/v1/status",
        "GET /api/v1/status",
        "POST /api/v1/heartbeat",
        "POST /api/v1/heartbeat",
      ]);
    } finally {
      await node.close();
      await proxy.close();
    }
  });

  it("a deregister whose answer was lost is retried, and the retry's REGISTRATION_NOT_FOUND counts as done", async () => {
    const proxy = await startInterceptingProxy(server.port, async (req, forward) => {
      const reply = await forward();
      // The coordinator deregistered the node; the answer never reaches the client.
      return req.url.endsWith("/deregister") && req.n === 2 ? "hang-up" : reply;
    });
    const node = new Client({ url: proxy.url, token: NODE });
    try {
      await node.register({ node_id: "leaver" });
      expect(await node.deregister()).toMatchObject({ node_id: "leaver" });
      expect(proxy.requests.map((r) => r.url)).toEqual(["/api/v1/register", "/api/v1/deregister", "/api/v1/deregister"]);
      expect(node.registrationId).toBeUndefined();
      expect((await client().getNode("leaver")).status).toBe("deregistered");
      // Without a retry, REGISTRATION_NOT_FOUND still means what it says.
      expect(await rejection(node.deregister("reg-unknown"))).toMatchObject({ code: "REGISTRATION_NOT_FOUND" });
    } finally {
      await node.close();
      await proxy.close();
    }
  });
});
