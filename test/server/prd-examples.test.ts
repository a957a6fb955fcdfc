/**
 * Every example of the PRD, sent as written to a real server: the answers carry the PRD's shape
 * inside the envelope of DESIGN section 5.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { claim, expectError, finish, heartbeat, makeClock, okData, type TestClock } from "../helpers/api-fixtures.js";
import { openEventStream } from "../helpers/sse-client.js";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const prdRegister = {
  node_id: "machine-b",
  hostname: "worker-pool-1.example.com",
  capacity: { max_workers: 5, current_workers: 2 },
  labels: { pool: "gpu", region: "us-west-2" },
};

let server: TestServer;
let clock: TestClock;

beforeEach(async () => {
  clock = makeClock();
  server = await startTestServer({ clock: clock.now, offlineThresholdMs: 90_000, claimTimeoutMs: 300_000 });
});
afterEach(async () => {
  await server.close();
});

async function registerPrdNode(): Promise<string> {
  return okData(await server.api("POST", "/register", { token: TOKENS.node, body: prdRegister })).registration_id;
}

describe("PRD examples", () => {
  it("POST /register answers {registration_id, heartbeat_interval_seconds: 30}", async () => {
    const res = await server.api("POST", "/register", { token: TOKENS.node, body: prdRegister });
    const data = okData(res);
    expect(Object.keys(data).sort()).toEqual(["heartbeat_interval_seconds", "registration_id"]);
    expect(data.registration_id).toMatch(/^reg-/);
    expect(data.heartbeat_interval_seconds).toBe(30);

    const node = okData(await server.api("GET", "/nodes/machine-b", { token: TOKENS.read }));
    expect(node).toMatchObject({
      id: "machine-b",
      hostname: "worker-pool-1.example.com",
      capacity: { max_workers: 5, current_workers: 2 },
      labels: { pool: "gpu", region: "us-west-2" },
      status: "online",
    });
    expect(node.last_seen).toBe(clock.iso());
    expect(node).not.toHaveProperty("registration_id");
  });

  it("POST /heartbeat with the PRD body answers {status, pending_messages, cancelled_task_ids} and stores the agents and metrics", async () => {
    const reg = await registerPrdNode();
    clock.advance(30_000);
    const res = await server.api("POST", "/heartbeat", {
      token: TOKENS.node,
      body: {
        registration_id: reg,
        status: "healthy",
        agents: [{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature" }],
        metrics: { cpu_percent: 45.2, memory_percent: 62.1 },
      },
    });
    const data = okData(res);
    expect(data).toMatchObject({ status: "online", pending_messages: 0, cancelled_task_ids: [] });

    const node = okData(await server.api("GET", "/nodes/machine-b", { token: TOKENS.read }));
    expect(node.agents).toEqual([{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature" }]);
    expect(node.metrics).toEqual({ cpu_percent: 45.2, memory_percent: 62.1 });
    expect(node.health).toBe("healthy");
    expect(node.last_seen).toBe(clock.iso());
  });

  it("GET /tasks/pending?labels=pool:gpu answers {tasks: [{id, repo, description, priority, labels}]}", async () => {
    const created = okData(
      await server.api("POST", "/tasks", {
        token: TOKENS.node,
        body: { repo: "my-repo", description: "Implement GPU-accelerated image processing", priority: "high", labels: { pool: "gpu" } },
      }),
      201,
    );
    const data = okData(await server.api("GET", "/tasks/pending?labels=pool:gpu", { token: TOKENS.read }));
    expect(Object.keys(data)).toEqual(["tasks"]);
    expect(data.tasks).toHaveLength(1);
    expect(data.tasks[0]).toMatchObject({
      id: created.id,
      repo: "my-repo",
      description: "Implement GPU-accelerated image processing",
      priority: "high",
      labels: { pool: "gpu" },
      status: "pending",
    });
    expect(data.tasks[0].id).toMatch(/^task-/);
  });

  it("POST /tasks/{id}/claim with the PRD body answers the claimed task", async () => {
    const reg = await registerPrdNode();
    const task = okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "x", labels: { pool: "gpu" } } }), 201);
    const data = okData(
      await server.api("POST", `/tasks/${task.id}/claim`, { token: TOKENS.node, body: { registration_id: reg, worker_name: "worker-3" } }),
    );
    expect(data).toMatchObject({
      id: task.id,
      status: "claimed",
      claimed_by: "worker-3@machine-b",
      claimed_node: "machine-b",
      worker_name: "worker-3",
      claimed_at: clock.iso(),
      attempts: 1,
    });
    expect(Date.parse(data.lease_expires_at) - clock.now()).toBe(300_000);
  });

  it("the TASK_CLAIMED error example: 409 with details.claimed_by and claimed_at", async () => {
    const regB = await registerPrdNode();
    const regC = okData(
      await server.api("POST", "/register", { token: TOKENS.node, body: { ...prdRegister, node_id: "machine-c", hostname: "machine-c" } }),
    ).registration_id;
    const task = okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "x" } }), 201);
    okData(await claim(server, task.id, regC, "worker-2"));
    const claimedAt = clock.iso();
    clock.advance(1000);
    const res = await claim(server, task.id, regB, "worker-3");
    const details = expectError(res, 409, "TASK_CLAIMED");
    // The PRD's text "task already claimed", naming the task and its holder (issue 13).
    expect(res.body.error).toBe(`task ${task.id} is already claimed by worker-2@machine-c`);
    expect(details).toEqual({ task_id: task.id, claimed_by: "worker-2@machine-c", claimed_at: claimedAt });
  });

  it("GET /state/{repo} answers {repo, agents, pending_tasks, active_prs} with agents keyed name@node", async () => {
    const regA = okData(
      await server.api("POST", "/register", { token: TOKENS.node, body: { node_id: "machine-a", capacity: { max_workers: 2 } } }),
    ).registration_id;
    const regB = await registerPrdNode();
    okData(await heartbeat(server, regA, { agents: [{ name: "supervisor", type: "supervisor", status: "running", repo: "my-repo" }] }));
    okData(
      await heartbeat(server, regB, {
        agents: [{ name: "worker-1", type: "worker", status: "running", task: "auth feature", repo: "my-repo" }],
        repos: [{ name: "my-repo", active_prs: 2 }],
      }),
    );
    for (let i = 0; i < 3; i++) {
      okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: `t${i}` } }), 201);
    }
    okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "other-repo", description: "elsewhere" } }), 201);

    const data = okData(await server.api("GET", "/state/my-repo", { token: TOKENS.read }));
    expect(data).toEqual({
      repo: "my-repo",
      known: true,
      agents: {
        "supervisor@machine-a": { name: "supervisor", node: "machine-a", type: "supervisor", status: "running", task: null },
        "worker-1@machine-b": { name: "worker-1", node: "machine-b", type: "worker", status: "running", task: "auth feature" },
      },
      pending_tasks: 3,
      active_prs: 2,
    });
  });

  it("POST /messages with the PRD body answers the stored message (201)", async () => {
    const regA = okData(await server.api("POST", "/register", { token: TOKENS.node, body: { node_id: "machine-a" } })).registration_id;
    const regB = await registerPrdNode();
    okData(await heartbeat(server, regA, { agents: [{ name: "supervisor", type: "supervisor", status: "running" }] }));
    const res = await server.api("POST", "/messages", {
      token: TOKENS.node,
      // A node token sends through its registration, as an agent of its node (DESIGN §10).
      body: { registration_id: regB, from: "worker-1@machine-b", to: "supervisor@machine-a", body: "I need clarification on the API design" },
    });
    const msg = okData(res, 201);
    expect(msg).toMatchObject({
      from: "worker-1@machine-b",
      to: "supervisor@machine-a",
      to_agent: "supervisor",
      to_node: "machine-a",
      body: "I need clarification on the API design",
      status: "pending",
      acked_at: null,
    });
    expect(msg.id).toMatch(/^msg-/);
    expect(msg.created_at).toMatch(ISO);
  });

  it("the event stream sends the PRD's agent.spawned, task.completed and node.offline frames", async () => {
    const stream = await openEventStream(`${server.url}/api/v1/events/stream`, { token: TOKENS.read });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers["content-type"]).toMatch(/^text\/event-stream/);
      await stream.waitFor((c) => c.items.length > 0, 5000, "retry line");
      const regC = okData(await server.api("POST", "/register", { token: TOKENS.node, body: { node_id: "machine-c" } })).registration_id;
      const lastSeen = clock.iso();
      okData(
        await heartbeat(server, regC, {
          agents: [{ name: "worker-7", type: "worker", status: "running", repo: "my-repo" }],
        }),
      );
      const task = okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "x" } }), 201);
      okData(await claim(server, task.id, regC, "worker-1"));
      okData(await finish(server, "complete", task.id, regC, { pr: "#42", summary: "done" }));
      clock.advance(90_001);
      await server.coordinator.sweep();

      const events = await stream.waitForEvents(6);
      expect(events.map((e) => e.event)).toEqual([
        "node.registered",
        "agent.spawned",
        "task.created",
        "task.claimed",
        "task.completed",
        "node.offline",
      ]);
      for (const e of events) {
        expect(Number.isInteger(e.id)).toBe(true);
        expect(e.data.ts).toMatch(ISO);
      }
      expect(events[1]!.data).toMatchObject({ repo: "my-repo", agent: "worker-7", node: "machine-c" });
      expect(events[4]!.data).toMatchObject({ task_id: task.id, worker: "worker-1", pr: "#42" });
      // heartbeat at the same instant as the registration: last_seen is that instant
      expect(events[5]!.data).toMatchObject({ node_id: "machine-c", last_seen: lastSeen });
      // each data line is one JSON document on one line
      for (const item of stream.items) if (item.kind === "event") expect(item.data).not.toContain("\n");
    } finally {
      stream.close();
    }
  });
});

describe("meta routes", () => {
  it("GET /health needs no token and answers {status: ok}", async () => {
    const res = await server.api("GET", "/health", { token: null });
    expect(okData(res)).toEqual({ status: "ok" });
  });

  it("GET /status answers version, uptime, store, node and task counts, last event id", async () => {
    const reg = await registerPrdNode();
    const t = okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "a" } }), 201);
    okData(await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "b" } }), 201);
    okData(await claim(server, t.id, reg));
    const data = okData(await server.api("GET", "/status", { token: TOKENS.read }));
    expect(typeof data.version).toBe("string");
    expect(Number.isInteger(data.uptime_seconds)).toBe(true);
    expect(data.store).toBe("memory");
    expect(data.nodes).toMatchObject({ total: 1, online: 1, offline: 0, deregistered: 0 });
    expect(data.tasks).toMatchObject({ total: 2, pending: 1, claimed: 1, completed: 0, failed: 0, cancelled: 0, orphaned: 0 });
    expect(data.last_event_id).toBe(4); // registered, created, created, claimed
  });

  it("GET /openapi.json is the raw OpenAPI 3.1 document (no envelope) listing every route of DESIGN section 5", async () => {
    const res = await server.api("GET", "/openapi.json", { token: null });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty("success");
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBeTruthy();
    const expected: Array<[string, string]> = [
      ["get", "/health"],
      ["get", "/status"],
      ["post", "/register"],
      ["post", "/heartbeat"],
      ["post", "/deregister"],
      ["get", "/nodes"],
      ["get", "/nodes/{id}"],
      ["post", "/tasks"],
      ["get", "/tasks"],
      ["get", "/tasks/pending"],
      ["get", "/tasks/{id}"],
      ["post", "/tasks/{id}/claim"],
      ["post", "/tasks/claim"],
      ["post", "/tasks/{id}/complete"],
      ["post", "/tasks/{id}/fail"],
      ["post", "/tasks/{id}/release"],
      ["post", "/tasks/{id}/cancel"],
      ["get", "/state/{repo}"],
      ["post", "/messages"],
      ["get", "/messages"],
      ["post", "/messages/{id}/ack"],
      ["get", "/events"],
      ["get", "/events/stream"],
    ];
    const missing = expected.filter(([m, p]) => !doc.paths?.[p]?.[m]).map(([m, p]) => `${m.toUpperCase()} ${p}`);
    expect(missing).toEqual([]);
    // Request bodies are described, and protected routes say they need the bearer token.
    expect(doc.paths["/tasks"].post.requestBody.content["application/json"].schema.properties).toHaveProperty("repo");
    expect(doc.paths["/tasks/{id}/cancel"].post.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });
});
