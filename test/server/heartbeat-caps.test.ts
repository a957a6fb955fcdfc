/**
 * DESIGN §10, issue 11 defect 5: a node's stored heartbeat report is at most 64 KiB (agents'
 * task texts cut to 1 KiB), so many nodes with near-1 MiB heartbeats no longer make GET /nodes
 * and GET /state/REPO fail. Real server on port 0, real heartbeats.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_AGENT_TASK_BYTES, MAX_REPORT_BYTES } from "../../src/core/report.js";
import { expectError, heartbeat, okData } from "../helpers/api-fixtures.js";
import { registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

/** `count` agents of repo `acme`, each with a 4,000-character task (what the schema allows). */
function bigAgents(count: number, char = "x") {
  return Array.from({ length: count }, (_, i) => ({
    name: `worker-${i}`,
    type: "worker",
    status: "running",
    repo: "acme",
    task: `${i}:`.padEnd(4000, char),
  }));
}

const reportBytes = (node: any) => Buffer.byteLength(JSON.stringify({ agents: node.agents, metrics: node.metrics, repos: node.repos }));

describe("stored heartbeat reports are capped", () => {
  it("cuts each agent's task text to 1 KiB (whole characters), and says so", async () => {
    const reg = await registerNode(server, "wordy");
    okData(await heartbeat(server, reg, { agents: bigAgents(3, "é") }));
    const node = okData(await server.api("GET", "/nodes/wordy", { token: TOKENS.read }));
    expect(node.report_truncated).toBe(true);
    expect(node.agents).toHaveLength(3);
    for (const a of node.agents) {
      expect(Buffer.byteLength(a.task)).toBeLessThanOrEqual(MAX_AGENT_TASK_BYTES);
      expect(Buffer.byteLength(a.task)).toBeGreaterThan(MAX_AGENT_TASK_BYTES - 8);
      expect(a.task.endsWith("…")).toBe(true);
      expect(a.task).not.toContain("\uFFFD");
    }
    // A report that fits is kept whole, and the flag goes away.
    okData(await heartbeat(server, reg, { agents: [{ name: "worker-0", type: "worker", status: "idle", task: "short" }] }));
    const small = okData(await server.api("GET", "/nodes/wordy", { token: TOKENS.read }));
    expect(small.report_truncated).toBeUndefined();
    expect(small.agents[0].task).toBe("short");
  });

  it("keeps a node's whole report within 64 KiB however large the heartbeat (200 agents with 4,000-character tasks, 256 repos)", async () => {
    const reg = await registerNode(server, "huge");
    const repos = Array.from({ length: 256 }, (_, i) => ({ name: `repo-${String(i).padStart(3, "0")}-${"r".repeat(100)}`, active_prs: i }));
    const body = { agents: bigAgents(200), repos, metrics: { cpu_percent: 12.5 } };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(800_000);
    const hb = await heartbeat(server, reg, body);
    expect(hb.status).toBe(200);
    const node = okData(await server.api("GET", "/nodes/huge", { token: TOKENS.read }));
    expect(reportBytes(node)).toBeLessThanOrEqual(MAX_REPORT_BYTES);
    expect(node).toMatchObject({ report_truncated: true, metrics: { cpu_percent: 12.5 } });
    // The first agents and repos stay, in the node's order; the worker count is the real one.
    expect(node.agents[0].name).toBe("worker-0");
    expect(node.agents.length).toBeGreaterThan(20);
    expect(node.repos[0].name).toBe(repos[0]!.name);
    expect(node.capacity.current_workers).toBe(200);
    // The same heartbeat again announces no agent as spawned or exited.
    const before = okData(await server.api("GET", "/status", { token: TOKENS.read })).last_event_id;
    okData(await heartbeat(server, reg, body));
    expect(okData(await server.api("GET", "/status", { token: TOKENS.read })).last_event_id).toBe(before);
  });

  it("many nodes with ~800 KB heartbeats: GET /nodes and GET /state answer, each report bounded", async () => {
    const count = 40;
    const regs = await Promise.all(Array.from({ length: count }, (_, i) => registerNode(server, `fleet-${String(i).padStart(2, "0")}`)));
    const agents = bigAgents(200);
    for (const reg of regs) expect((await heartbeat(server, reg, { agents })).status).toBe(200);
    const res = await server.api("GET", "/nodes?limit=1000", { token: TOKENS.read });
    const page = okData(res);
    expect(page.nodes).toHaveLength(count);
    for (const n of page.nodes) expect(reportBytes(n)).toBeLessThanOrEqual(MAX_REPORT_BYTES);
    expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThan(count * (MAX_REPORT_BYTES + 4096));
    const state = okData(await server.api("GET", "/state/acme", { token: TOKENS.read }));
    expect(Object.keys(state.agents).length).toBe(count * page.nodes[0].agents.length);
    expect(state.agents_truncated).toBeUndefined();
  });

  it("refuses heartbeats past the schema's array bounds with 400, not by storing them", async () => {
    const reg = await registerNode(server, "bounded");
    const tooMany = Array.from({ length: 257 }, (_, i) => ({ name: `w${i}`, type: "worker", status: "idle" }));
    const details = expectError(await heartbeat(server, reg, { agents: tooMany }), 400, "INVALID_REQUEST");
    expect(JSON.stringify(details)).toMatch(/agents/);
    expectError(await heartbeat(server, reg, { repos: Array.from({ length: 257 }, (_, i) => ({ name: `r${i}`, active_prs: 0 })) }), 400, "INVALID_REQUEST");
    const metrics = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`m${i}`, i]));
    expectError(await heartbeat(server, reg, { metrics }), 400, "INVALID_REQUEST");
  });
});
