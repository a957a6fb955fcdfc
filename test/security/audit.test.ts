import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/server/audit-log.js";
import { registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

async function readLines(file: string, atLeast: number): Promise<any[]> {
  // The log is written without blocking requests, so lines land a moment after the answer.
  for (let i = 0; i < 100; i++) {
    const lines = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
    if (lines.length >= atLeast) return lines.map((l) => JSON.parse(l));
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`audit log ${file} never reached ${atLeast} lines`);
}

describe("audit log", () => {
  let dir: string;
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("records every mutating request and every auth failure, naming the token, never containing it", async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-audit-"));
    const file = join(dir, "audit.log");
    server = await startTestServer({ app: { audit: { file } } });
    const reg = await registerNode(server, "machine-b");
    const created = await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "r", description: "d" } });
    await server.api("POST", `/tasks/${created.body.data.id}/claim`, { token: TOKENS.node, body: { registration_id: reg, worker_name: "w1" } });
    await server.api("POST", `/tasks/${created.body.data.id}/claim`, { token: TOKENS.node, body: { registration_id: reg, worker_name: "w2" } });
    await server.api("GET", "/nodes"); // a read: not audited
    await server.api("GET", "/nodes", { token: "not-a-real-token" });
    await server.api("POST", "/tasks", { token: TOKENS.read, body: { repo: "r", description: "d" } });

    const lines = await readLines(file, 6);
    expect(lines.map((l) => `${l.action} ${l.status}`)).toEqual([
      "POST /api/v1/register 200",
      "POST /api/v1/tasks 201",
      "POST /api/v1/tasks/:id/claim 200",
      "POST /api/v1/tasks/:id/claim 409",
      "GET /api/v1/nodes 401",
      "POST /api/v1/tasks 403",
    ]);
    expect(lines[0]).toMatchObject({ actor: "node", role: "node", target: "machine-b", outcome: "ok", address: "127.0.0.1" });
    expect(lines[3]).toMatchObject({ target: created.body.data.id, outcome: "error", code: "TASK_CLAIMED" });
    expect(lines[4]).toMatchObject({ actor: expect.stringMatching(/^token:[0-9a-f]{8}$/), role: null, code: "UNAUTHORIZED" });
    expect(lines[5]).toMatchObject({ actor: "reader", role: "read", code: "FORBIDDEN" });
    for (const l of lines) expect(Date.parse(l.time)).not.toBeNaN();
    const raw = readFileSync(file, "utf8");
    for (const secret of [...Object.values(TOKENS), "not-a-real-token"]) expect(raw).not.toContain(secret);
  });

  it("behind a trusted proxy, names the client address from X-Forwarded-For", async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-audit-"));
    const file = join(dir, "audit.log");
    server = await startTestServer({ app: { audit: { file }, fastify: { trustProxy: ["127.0.0.1"] } } });
    await server.api("POST", "/register", { token: TOKENS.node, body: { node_id: "behind-lb" }, headers: { "x-forwarded-for": "10.1.2.3" } });
    const [line] = await readLines(file, 1);
    expect(line).toMatchObject({ action: "POST /api/v1/register", address: "10.1.2.3" });
  });

  it("rotates past its size cap and keeps a bounded number of files", async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-audit-"));
    const file = join(dir, "audit.log");
    const log = createAuditLog({ file, maxBytes: 2000, keep: 2 });
    for (let i = 0; i < 100; i++) {
      log.write({ time: new Date().toISOString(), actor: "a", role: "node", address: "127.0.0.1", action: `POST /x/${i}`, target: null, status: 200, outcome: "ok" });
    }
    await log.close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(["audit.log", "audit.log.1", "audit.log.2"]);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(2000);
    // The newest line is in the live file, and every line in it is whole JSON.
    const live = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(live.at(-1).action).toBe("POST /x/99");
  });
});
