/**
 * Node identity (DESIGN §10, issue 11 defect 3): the attacks of the issue, each refused on a real
 * server with two node tokens of different names, and what the rightful owner still may do.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/client/index.js";
import type { AuthOptions } from "../../src/server/auth.js";
import { expectError, lastEventId, okData } from "../helpers/api-fixtures.js";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

const A = "token-of-team-a";
const B = "token-of-team-b";
const CI = "token-of-ci-runners";

const AUTH: AuthOptions = {
  required: true,
  tokens: [
    { token: TOKENS.admin, role: "admin", name: "lead" },
    { token: A, role: "node", name: "team-a" },
    { token: B, role: "node", name: "team-b" },
    { token: CI, role: "node", name: "ci-runners", nodes: ["ci-runner-*"] },
    { token: TOKENS.read, role: "read", name: "dashboard" },
  ],
};

let server: TestServer;
let auditFile: string;

beforeAll(async () => {
  auditFile = join(mkdtempSync(join(tmpdir(), "mcc-identity-")), "audit.log");
  server = await startTestServer({
    app: {
      audit: { file: auditFile },
      auth: AUTH,
    },
  });
});
afterAll(async () => {
  await server.close();
});

const register = (token: string, node_id: string) => server.api("POST", "/register", { token, body: { node_id, capacity: { max_workers: 2 } } });

async function auditLines(): Promise<any[]> {
  return existsSync(auditFile) ? readFileSync(auditFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
}

describe("token B against team A's node", () => {
  it("cannot re-register victim, nor complete, fail, release or heartbeat through victim's registration", async () => {
    const victimReg = okData(await register(A, "victim")).registration_id;
    const task = okData(await server.api("POST", "/tasks", { token: A, body: { repo: "r", description: "victim's work" } }), 201);
    okData(await server.api("POST", `/tasks/${task.id}/claim`, { token: A, body: { registration_id: victimReg, worker_name: "w1" } }));
    const mark = await lastEventId(server);

    // The hijack of the issue: B re-registers victim, then completes victim's task with its own PR.
    expect(expectError(await register(B, "victim"), 409, "NODE_OWNED")).toMatchObject({ node_id: "victim", owner: "team-a" });
    const bReg = okData(await register(B, "b-1")).registration_id;
    expectError(await server.api("POST", `/tasks/${task.id}/complete`, { token: B, body: { registration_id: bReg, pr: "https://evil/pr/1" } }), 403, "NOT_CLAIMANT");
    // Even with victim's registration id in hand (leaked from a log, say), B is refused.
    for (const [path, body] of [
      [`/tasks/${task.id}/complete`, { registration_id: victimReg, pr: "https://evil/pr/1" }],
      [`/tasks/${task.id}/fail`, { registration_id: victimReg, reason: "x", retry: false }],
      [`/tasks/${task.id}/release`, { registration_id: victimReg }],
      ["/tasks/claim", { registration_id: victimReg, worker_name: "w2" }],
      ["/heartbeat", { registration_id: victimReg, status: "draining" }],
      ["/deregister", { registration_id: victimReg }],
    ] as const) {
      expectError(await server.api("POST", path, { token: B, body }), 403, "FORBIDDEN");
    }
    // Nothing B tried happened, and victim carries on.
    expect(await lastEventId(server) - mark).toBe(1); // b-1's registration
    expect(okData(await server.api("GET", `/tasks/${task.id}`, { token: TOKENS.read }))).toMatchObject({ status: "claimed", claimed_by: "w1@victim" });
    expect(okData(await server.api("POST", "/heartbeat", { token: A, body: { registration_id: victimReg } })).status).toBe("online");
    const done = okData(await server.api("POST", `/tasks/${task.id}/complete`, { token: A, body: { registration_id: victimReg, pr: "#7" } }));
    expect(done).toMatchObject({ status: "completed", result: { pr: "#7" } });
  });

  it("cannot ack team A's messages; team A can, as the recipient node", async () => {
    const aReg = okData(await register(A, "machine-a")).registration_id;
    const bReg = okData(await register(B, "machine-b")).registration_id;
    const m = okData(await server.api("POST", "/messages", { body: { from: "lead@x", to: "supervisor@machine-a", body: "for A" } }), 201);
    const ack = (token: string, body: unknown) => server.api("POST", `/messages/${m.id}/ack`, { token, body });
    expectError(await ack(B, {}), 403, "NOT_RECIPIENT");
    expectError(await ack(B, { registration_id: bReg }), 403, "NOT_RECIPIENT");
    expectError(await ack(B, { registration_id: aReg }), 403, "FORBIDDEN");
    expect(okData(await server.api("GET", "/messages?node=machine-a&status=pending", { token: TOKENS.read })).messages.map((x: any) => x.id)).toEqual([m.id]);
    expect(okData(await ack(A, { registration_id: aReg }))).toMatchObject({ id: m.id, status: "acked" });
  });

  it("cannot send as supervisor@lead-machine; sends as its own node's agents; an admin may send as anyone", async () => {
    const bReg = okData(await register(B, "machine-b2")).registration_id;
    const send = (token: string, body: Record<string, unknown>) =>
      server.api("POST", "/messages", { token, body: { to: "worker-1@machine-b2", body: "merge now", ...body } });
    expect(expectError(await send(B, { from: "supervisor@lead-machine" }), 403, "FORBIDDEN")).toMatchObject({ required: "registration_id" });
    expectError(await send(B, { registration_id: bReg, from: "supervisor@lead-machine" }), 403, "FORBIDDEN");
    expectError(await send(B, { registration_id: bReg, from: "supervisor" }), 403, "FORBIDDEN");
    expect(okData(await send(B, { registration_id: bReg, from: "worker-2@machine-b2" }), 201).from).toBe("worker-2@machine-b2");
    expect(okData(await send(TOKENS.admin, { from: "supervisor@lead-machine" }), 201).from).toBe("supervisor@lead-machine");
  });
});

describe("nodes: globs and admin takeover", () => {
  it("a token with nodes: [ci-runner-*] registers only matching ids", async () => {
    okData(await register(CI, "ci-runner-7"));
    expect(expectError(await register(CI, "lead-machine"), 403, "FORBIDDEN")).toMatchObject({ node_id: "lead-machine", nodes: ["ci-runner-*"] });
    expectError(await register(CI, "ci-runner"), 403, "FORBIDDEN");
  });

  it("a token whose nodes are narrowed by a reload can no longer act for the nodes it lost", async () => {
    const reg = okData(await register(CI, "ci-runner-9")).registration_id;
    okData(await server.api("POST", "/heartbeat", { token: CI, body: { registration_id: reg } }));
    const narrowed = AUTH.tokens.map((t) => (t.name === "ci-runners" ? { ...t, nodes: ["ci-runner-1*"] } : t));
    server.app.coordAuth.setTokens({ ...AUTH, tokens: narrowed });
    try {
      expectError(await server.api("POST", "/heartbeat", { token: CI, body: { registration_id: reg } }), 403, "FORBIDDEN");
    } finally {
      server.app.coordAuth.setTokens(AUTH);
    }
    okData(await server.api("POST", "/heartbeat", { token: CI, body: { registration_id: reg } }));
  });

  it("an admin takes a node over, which the audit log records; the old owner is then refused", async () => {
    const oldReg = okData(await register(A, "taken")).registration_id;
    okData(await register(TOKENS.admin, "taken"));
    expectError(await server.api("POST", "/heartbeat", { token: A, body: { registration_id: oldReg } }), 404, "REGISTRATION_NOT_FOUND");
    expectError(await register(A, "taken"), 409, "NODE_OWNED");
    let lines: any[] = [];
    for (let i = 0; i < 200 && !lines.some((l) => l.takeover_from); i++) {
      await new Promise((r) => setTimeout(r, 10));
      lines = await auditLines();
    }
    expect(lines.filter((l) => l.takeover_from)).toEqual([
      expect.objectContaining({ actor: "lead", action: "POST /api/v1/register", target: "taken", status: 200, takeover_from: "team-a" }),
    ]);
  });
});

describe("with authentication switched off", () => {
  it("nobody is identified: registrations work for anyone, and nothing becomes owned", async () => {
    const reg = okData(await register(A, "before-auth-off")).registration_id;
    server.app.coordAuth.setTokens({ required: false, tokens: [] });
    try {
      okData(await server.api("POST", "/heartbeat", { token: null, body: { registration_id: reg } }));
      okData(await server.api("POST", "/register", { token: null, body: { node_id: "while-auth-off" } }));
      okData(await server.api("POST", "/register", { token: null, body: { node_id: "before-auth-off" } }));
      expect((await server.store.getNode("while-auth-off"))!.owner).toBeUndefined();
      expect((await server.store.getNode("before-auth-off"))!.owner).toBe("team-a");
    } finally {
      server.app.coordAuth.setTokens(AUTH);
    }
    okData(await register(B, "while-auth-off"));
    expectError(await register(B, "before-auth-off"), 409, "NODE_OWNED");
  });
});

describe("the client library", () => {
  it("sends and acks through its own registration, so a node token's messages work and stay its own", async () => {
    const a = new Client({ url: server.url, token: A });
    const b = new Client({ url: server.url, token: B });
    try {
      await a.register({ node_id: "lib-a" });
      await b.register({ node_id: "lib-b" });
      const m = await b.sendMessage({ from: "worker-1@lib-b", to: "supervisor@lib-a", body: "hello A" });
      await expect(b.ackMessage(m.id)).rejects.toMatchObject({ code: "NOT_RECIPIENT", status: 403 });
      await expect(b.sendMessage({ from: "supervisor@lib-a", to: "supervisor@lib-a", body: "spoof" })).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(await a.ackMessage(m.id)).toMatchObject({ id: m.id, status: "acked" });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
