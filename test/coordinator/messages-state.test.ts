/**
 * Inter-agent messages (addressing, resolution from heartbeats, delivery counts, acks) and the
 * repo state built from heartbeats (agents keyed name@node, pending tasks, active PRs, agent
 * spawn/exit events), through the real API.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/coordinator/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import {
  allEvents,
  claim,
  expectError,
  heartbeat,
  lastEventId,
  makeClock,
  okData,
  type TestClock,
} from "../helpers/api-fixtures.js";

let server: TestServer;
let clock: TestClock;

beforeEach(async () => {
  clock = makeClock();
  server = await startTestServer({ clock: clock.now, offlineThresholdMs: 90_000, claimTimeoutMs: 300_000 });
});
afterEach(async () => {
  await server.close();
});

const agent = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: name === "supervisor" ? "supervisor" : "worker", status: "running", ...extra });

/** As an admin, who may send as anyone: these tests are about routing (identity: test/security/node-identity). */
async function send(body: Record<string, unknown>) {
  return server.api("POST", "/messages", { token: TOKENS.admin, body });
}

async function listMessages(query: string): Promise<any[]> {
  return okData(await server.api("GET", `/messages${query}`, { token: TOKENS.read })).messages;
}

async function state(repo: string): Promise<any> {
  return okData(await server.api("GET", `/state/${repo}`, { token: TOKENS.read }));
}

describe("messages", () => {
  it("agent@node: stored, listed by ?node=, counted in the heartbeat response, acked idempotently, announced", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    const mark = await lastEventId(server);

    const m1 = okData(await send({ from: "worker-1@machine-b", to: "supervisor@machine-a", body: "I need clarification on the API design" }), 201);
    const m2 = okData(await send({ from: "worker-2@machine-b", to: "merge-queue@machine-a", body: "PR #42 is ready" }), 201);
    expect(m1).toMatchObject({ to: "supervisor@machine-a", to_agent: "supervisor", to_node: "machine-a", status: "pending", repo: null });

    expect((await listMessages("?node=machine-a")).map((m) => m.id)).toEqual([m1.id, m2.id]);
    expect(await listMessages("?node=machine-b")).toEqual([]);
    expect((await listMessages("?to=merge-queue@machine-a")).map((m) => m.id)).toEqual([m2.id]);
    expect(okData(await heartbeat(server, regA)).pending_messages).toBe(2);
    expect(okData(await heartbeat(server, regB)).pending_messages).toBe(0);

    clock.advance(5000);
    const acked = okData(await server.api("POST", `/messages/${m1.id}/ack`, { token: TOKENS.node, body: { registration_id: regA } }));
    expect(acked).toMatchObject({ id: m1.id, status: "acked", acked_at: clock.iso() });
    clock.advance(5000);
    const again = okData(await server.api("POST", `/messages/${m1.id}/ack`, { token: TOKENS.node, body: { registration_id: regA } }));
    expect(again).toEqual(acked);

    expect(okData(await heartbeat(server, regA)).pending_messages).toBe(1);
    expect((await listMessages("?node=machine-a&status=pending")).map((m) => m.id)).toEqual([m2.id]);
    expect((await listMessages("?node=machine-a&status=acked")).map((m) => m.id)).toEqual([m1.id]);

    const events = (await allEvents(server, mark)).filter((e) => e.type.startsWith("message."));
    expect(events.map((e) => [e.type, e.data.message_id])).toEqual([
      ["message.sent", m1.id],
      ["message.sent", m2.id],
      ["message.acked", m1.id],
    ]);
    expect(events[0]!.data).toMatchObject({ from: "worker-1@machine-b", to: "supervisor@machine-a", node_id: "machine-a" });
  });

  it("only the addressed node may ack", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    const m = okData(await send({ from: "x@machine-b", to: "supervisor@machine-a", body: "hello" }), 201);
    expectError(await server.api("POST", `/messages/${m.id}/ack`, { token: TOKENS.node, body: { registration_id: regB } }), 403, "NOT_RECIPIENT");
    expectError(await server.api("POST", `/messages/${m.id}/ack`, { token: TOKENS.node }), 403, "NOT_RECIPIENT");
    expect((await listMessages("?node=machine-a&status=pending")).map((x) => x.id)).toEqual([m.id]);
    okData(await server.api("POST", `/messages/${m.id}/ack`, { token: TOKENS.node, body: { registration_id: regA } }));
    expectError(await server.api("POST", "/messages/msg-unknown/ack", { token: TOKENS.node }), 404, "NOT_FOUND");
  });

  it("a bare name plus repo goes to the node whose heartbeats report that agent in that repo", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    okData(await heartbeat(server, regA, { agents: [agent("supervisor", { repo: "my-repo" })] }));
    // machine-b reports one repo; its agents without `repo` belong to it
    okData(await heartbeat(server, regB, { agents: [agent("worker-1")], repos: [{ name: "other-repo", active_prs: 0 }] }));

    const toSup = okData(await send({ from: "worker-1@machine-b", to: "supervisor", repo: "my-repo", body: "question" }), 201);
    expect(toSup).toMatchObject({ to: "supervisor@machine-a", to_node: "machine-a", repo: "my-repo" });
    const toWorker = okData(await send({ from: "supervisor@machine-a", to: "worker-1", repo: "other-repo", body: "answer" }), 201);
    expect(toWorker).toMatchObject({ to: "worker-1@machine-b", to_node: "machine-b" });

    // Not reported for that repo (or at all): 404 AGENT_NOT_FOUND, nothing stored.
    const mark = await lastEventId(server);
    expect(expectError(await send({ from: "a@machine-a", to: "worker-1", repo: "my-repo", body: "x" }), 404, "AGENT_NOT_FOUND")).toMatchObject({
      agent: "worker-1",
      repo: "my-repo",
    });
    expectError(await send({ from: "a@machine-a", to: "ghost", repo: "my-repo", body: "x" }), 404, "AGENT_NOT_FOUND");
    // A bare name needs a repo to be resolved.
    expectError(await send({ from: "a@machine-a", to: "supervisor", body: "x" }), 400, "INVALID_REQUEST");
    // agent@node to a node nobody registered
    expectError(await send({ from: "a@machine-a", to: "supervisor@machine-z", body: "x" }), 404, "NODE_NOT_FOUND");
    expect(await lastEventId(server)).toBe(mark);
    expect(await listMessages("")).toHaveLength(2);
  });

  it("a bare name several nodes report goes to an online one, the most recently seen first", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    okData(await heartbeat(server, regA, { agents: [agent("supervisor", { repo: "my-repo" })] }));
    // Further apart than the window in which a repeated heartbeat is not written (15 s here, see
    // repeatHeartbeatWindowMs): "most recently seen" is exact to that window.
    clock.advance(16_000);
    okData(await heartbeat(server, regB, { agents: [agent("supervisor", { repo: "my-repo" })] }));
    expect(okData(await send({ from: "x@machine-a", to: "supervisor", repo: "my-repo", body: "1" }), 201).to_node).toBe("machine-b");

    clock.advance(16_000);
    okData(await heartbeat(server, regA));
    expect(okData(await send({ from: "x@machine-a", to: "supervisor", repo: "my-repo", body: "2" }), 201).to_node).toBe("machine-a");

    // machine-a falls silent and goes offline; machine-b keeps beating
    clock.advance(60_000);
    okData(await heartbeat(server, regB));
    clock.advance(40_000);
    await server.coordinator.sweep();
    expect(okData(await server.api("GET", "/nodes/machine-a", { token: TOKENS.read })).status).toBe("offline");
    expect(okData(await send({ from: "x@machine-a", to: "supervisor", repo: "my-repo", body: "3" }), 201).to_node).toBe("machine-b");
  });

  it("an agent that left a node is no longer a target for its bare name", async () => {
    const reg = await registerNode(server, "machine-a");
    okData(await heartbeat(server, reg, { agents: [agent("worker-3", { repo: "my-repo" })] }));
    okData(await send({ from: "x@machine-a", to: "worker-3", repo: "my-repo", body: "hi" }), 201);
    okData(await heartbeat(server, reg, { agents: [] }));
    expectError(await send({ from: "x@machine-a", to: "worker-3", repo: "my-repo", body: "hi" }), 404, "AGENT_NOT_FOUND");
  });

  it("bodies keep their text exactly (newlines, unicode) and may be 64 KiB", async () => {
    await registerNode(server, "machine-a");
    const text = "line 1\nline 2 — ünïcødé ✓\n\ttabbed";
    const m = okData(await send({ from: "x@machine-b", to: "supervisor@machine-a", body: text }), 201);
    expect((await listMessages("?node=machine-a"))[0].body).toBe(text);
    expect(m.body).toBe(text);
    okData(await send({ from: "x@machine-b", to: "supervisor@machine-a", body: "y".repeat(65_536) }), 201);
  });
});

describe("GET /state/{repo}", () => {
  it("is built from heartbeats: agents keyed name@node, pending_tasks of the repo, active_prs summed over nodes", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b", { maxWorkers: 5 });
    okData(
      await heartbeat(server, regA, {
        agents: [agent("supervisor", { repo: "my-repo" }), agent("merge-queue", { repo: "my-repo" }), agent("supervisor", { repo: "other-repo" })],
        repos: [
          { name: "my-repo", active_prs: 4 },
          { name: "other-repo", active_prs: 1 },
        ],
      }),
    );
    okData(
      await heartbeat(server, regB, {
        agents: [agent("supervisor", { repo: "my-repo" }), agent("worker-1", { repo: "my-repo", task: "auth feature" })],
      }),
    );

    const tasks = [];
    for (let i = 0; i < 4; i++) tasks.push(await createTask(server, { description: `t${i}` }));
    await createTask(server, { repo: "other-repo" });
    okData(await claim(server, tasks[0]!.id, regB)); // claimed: not pending
    okData(await claim(server, tasks[1]!.id, regB));
    clock.advance(300_000); // tasks[1] and tasks[0] orphan...
    okData(await heartbeat(server, regA));
    await server.coordinator.sweep();
    // ...orphaned tasks count as pending; claim one back so one stays claimed
    okData(await heartbeat(server, regB));
    okData(await claim(server, tasks[0]!.id, regB));

    let s = await state("my-repo");
    expect(s.repo).toBe("my-repo");
    expect(Object.keys(s.agents).sort()).toEqual(["merge-queue@machine-a", "supervisor@machine-a", "supervisor@machine-b", "worker-1@machine-b"]);
    expect(s.agents["worker-1@machine-b"]).toEqual({ name: "worker-1", node: "machine-b", type: "worker", status: "running", task: "auth feature" });
    expect(s.pending_tasks).toBe(3); // t1 (orphaned), t2, t3
    expect(s.active_prs).toBe(4);

    // Each node's latest report counts, summed: machine-a's 4 and machine-b's 6.
    clock.advance(1000);
    okData(await heartbeat(server, regB, { repos: [{ name: "my-repo", active_prs: 6 }] }));
    s = await state("my-repo");
    expect(s.active_prs).toBe(10);
    expect(s.known).toBe(true);
    expect(Object.keys(s.agents)).toContain("worker-1@machine-b"); // a heartbeat without `agents` keeps them

    const other = await state("other-repo");
    expect(Object.keys(other.agents)).toEqual(["supervisor@machine-a"]);
    expect(other).toMatchObject({ pending_tasks: 1, active_prs: 1 });
    expect(await state("empty-repo")).toEqual({ repo: "empty-repo", known: false, agents: {}, pending_tasks: 0, active_prs: 0 });
  });

  it("active_prs is the sum of each node's latest report (two nodes with a PR each make 2)", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    okData(await heartbeat(server, regA, { repos: [{ name: "my-repo", active_prs: 1 }] }));
    clock.advance(1000);
    okData(await heartbeat(server, regB, { repos: [{ name: "my-repo", active_prs: 1 }] }));
    expect((await state("my-repo")).active_prs).toBe(2);
    // A node's new report replaces its own earlier one, not the other node's.
    clock.advance(1000);
    okData(await heartbeat(server, regA, { repos: [{ name: "my-repo", active_prs: 3 }] }));
    expect((await state("my-repo")).active_prs).toBe(4);
    // A node that leaves no longer counts.
    okData(await server.api("POST", "/deregister", { token: TOKENS.node, body: { registration_id: regB } }));
    expect((await state("my-repo")).active_prs).toBe(3);
  });

  it("an agent without repo counts for the node's repo when the node reports exactly one", async () => {
    const reg = await registerNode(server, "machine-c");
    okData(await heartbeat(server, reg, { agents: [agent("worker-7")], repos: [{ name: "my-repo", active_prs: 2 }] }));
    expect(Object.keys((await state("my-repo")).agents)).toEqual(["worker-7@machine-c"]);
    // With two repos reported, it belongs to neither.
    okData(await heartbeat(server, reg, { repos: [{ name: "my-repo", active_prs: 2 }, { name: "b-repo", active_prs: 0 }] }));
    expect((await state("my-repo")).agents).toEqual({});
  });

  it("agents appearing or vanishing between two heartbeats raise agent.spawned / agent.exited", async () => {
    const reg = await registerNode(server, "machine-c");
    okData(await heartbeat(server, reg, { agents: [agent("supervisor", { repo: "my-repo" }), agent("worker-1", { repo: "my-repo" })] }));
    const mark = await lastEventId(server);

    okData(await heartbeat(server, reg, { agents: [agent("supervisor", { repo: "my-repo" }), agent("worker-7", { repo: "my-repo" })] }));
    const events = (await allEvents(server, mark)).filter((e) => e.type.startsWith("agent."));
    expect(events.map((e) => [e.type, e.data.agent])).toEqual([
      ["agent.spawned", "worker-7"],
      ["agent.exited", "worker-1"],
    ]);
    expect(events[0]!.data).toMatchObject({ repo: "my-repo", agent: "worker-7", node: "machine-c", type: "worker" });
    expect(events[1]!.data).toMatchObject({ repo: "my-repo", agent: "worker-1", node: "machine-c" });

    // Unchanged agents (even with a new status) and heartbeats without `agents` raise nothing.
    const mark2 = await lastEventId(server);
    okData(await heartbeat(server, reg, { agents: [agent("supervisor", { repo: "my-repo", status: "idle" }), agent("worker-7", { repo: "my-repo" })] }));
    okData(await heartbeat(server, reg, { metrics: { cpu_percent: 1 } }));
    expect(await allEvents(server, mark2)).toEqual([]);
    expect((await state("my-repo")).agents["supervisor@machine-c"].status).toBe("idle");

    // The same name in two repos is two agents.
    okData(
      await heartbeat(server, reg, {
        agents: [agent("supervisor", { repo: "my-repo", status: "idle" }), agent("worker-7", { repo: "my-repo" }), agent("supervisor", { repo: "b-repo" })],
      }),
    );
    const spawned = (await allEvents(server, mark2)).filter((e) => e.type === "agent.spawned");
    expect(spawned.map((e) => [e.data.agent, e.data.repo])).toEqual([["supervisor", "b-repo"]]);
  });

  it("agent events carry the repo the agent is counted for when the node reports one repo", async () => {
    const reg = await registerNode(server, "machine-c");
    const mark = await lastEventId(server);
    okData(await heartbeat(server, reg, { agents: [agent("worker-7")], repos: [{ name: "my-repo", active_prs: 0 }] }));
    const spawned = (await allEvents(server, mark)).filter((e) => e.type === "agent.spawned");
    expect(spawned.map((e) => e.data)).toEqual([expect.objectContaining({ repo: "my-repo", agent: "worker-7", node: "machine-c" })]);
    // ...so a stream filtered by repo sees the agent arrive.
    const filtered = okData(await server.api("GET", `/events?since=${mark}&repo=my-repo`, { token: TOKENS.read })).events as any[];
    expect(filtered.map((e) => e.type)).toEqual(["agent.spawned"]);
  });

  it("a deregistered node's agents leave the state", async () => {
    const reg = await registerNode(server, "machine-c");
    okData(await heartbeat(server, reg, { agents: [agent("worker-1", { repo: "my-repo" })] }));
    expect(Object.keys((await state("my-repo")).agents)).toEqual(["worker-1@machine-c"]);
    okData(await server.api("POST", "/deregister", { token: TOKENS.node, body: { registration_id: reg } }));
    expect((await state("my-repo")).agents).toEqual({});
  });
});

describe("message size", () => {
  it("caps a body at 64 KiB of bytes, not characters", async () => {
    const store = createMemoryStore();
    const coordinator = createCoordinator({ store });
    const reg = await coordinator.nodes.register({ node_id: "node-b" });
    expect(reg.registration_id).toBeTruthy();
    const ok = await coordinator.messages.send({ from: "a@x", to: "w@node-b", body: "é".repeat(32 * 1024) });
    expect(ok.status).toBe("pending");
    await expect(coordinator.messages.send({ from: "a@x", to: "w@node-b", body: "é".repeat(32 * 1024 + 1) })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
    });
    expect(await store.listMessages({ to_node: "node-b", limit: 10 })).toHaveLength(1);
    await coordinator.stop();
  });
});
