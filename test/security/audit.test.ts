import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/server/audit-log.js";
import { createRefusalCounter } from "../../src/server/audit-refusals.js";
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

let dir: string;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("audit log", () => {
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

    const lines = await readLines(file, 5);
    expect(lines.map((l) => `${l.action} ${l.status}`)).toEqual([
      "POST /api/v1/register 200",
      "POST /api/v1/tasks 201",
      "POST /api/v1/tasks/:id/claim 200",
      "POST /api/v1/tasks/:id/claim 409",
      "POST /api/v1/tasks 403",
    ]);
    expect(lines[0]).toMatchObject({ actor: "node", role: "node", target: "machine-b", outcome: "ok", address: "127.0.0.1" });
    expect(lines[3]).toMatchObject({ target: created.body.data.id, outcome: "error", code: "TASK_CLAIMED" });
    expect(lines[4]).toMatchObject({ actor: "reader", role: "read", code: "FORBIDDEN" });
    for (const l of lines) expect(Date.parse(l.time)).not.toBeNaN();
    // The refused authentication is counted in the refusals file, written when its minute ends (or at close).
    await server.close();
    server = undefined;
    const [refused, ...more] = await readLines(join(dir, "audit.refused.log"), 1);
    expect(more).toEqual([]);
    expect(refused).toMatchObject({ address: "127.0.0.1", outcome: "refused", count: 1, statuses: { 401: 1 }, actions: ["GET /api/v1/nodes"] });
    expect(refused.actors).toEqual([expect.stringMatching(/^token:[0-9a-f]{8}$/)]);
    const raw = readFileSync(file, "utf8") + readFileSync(join(dir, "audit.refused.log"), "utf8");
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

describe("audit log under attack (issue 11 defect 4)", () => {
  it("a flood of unauthenticated requests is counted per address and cannot rotate away the accepted changes", async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-audit-"));
    const file = join(dir, "audit.log");
    // Small files, so that a flood written line by line into the one log would rotate it over many times.
    server = await startTestServer({ app: { audit: { file, maxBytes: 4096, keep: 2 } } });
    await registerNode(server, "before-the-flood");
    await readLines(file, 1);
    const pool = new Pool(server.url, { connections: 16 });
    try {
      const flood = Array.from({ length: 2000 }, (_, i) =>
        pool.request({ method: "POST", path: "/api/v1/register", headers: { authorization: `Bearer guess-${i}`, "content-type": "application/json" }, body: "{}" }).then((r) => r.body.dump()),
      );
      await Promise.all(flood);
    } finally {
      await pool.close();
    }
    await server.close();
    server = undefined;
    const kept = readFileSync(file, "utf8");
    expect(kept).toContain('"target":"before-the-flood"');
    expect(existsSync(`${file}.1`)).toBe(false);
    const refused = await readLines(join(dir, "audit.refused.log"), 1);
    // One line per address per minute: the whole flood fits one line, with its count.
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ address: "127.0.0.1", count: 2000, statuses: { 401: 2000 } });
    expect(refused[0].actors).toHaveLength(5);
  });

  it("copies no unvalidated field: a 1 MB node_id leaves a short line", async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-audit-"));
    const file = join(dir, "audit.log");
    server = await startTestServer({ app: { audit: { file } } });
    const huge = "n".repeat(1_000_000);
    for (let i = 0; i < 5; i++) {
      const res = await server.api("POST", "/register", { token: TOKENS.node, body: { node_id: huge } });
      expect(res.status).toBe(400);
      await server.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: huge } });
      await server.api("POST", "/tasks/x/complete", { token: TOKENS.node, body: { registration_id: "r", node_id: huge } });
    }
    const lines = await readLines(file, 15);
    expect(readFileSync(file).length).toBeLessThan(15 * 400);
    // The complete's unknown node_id is ignored (DESIGN §14), so that one is a 404 for task x.
    for (const l of lines) expect(l).toMatchObject({ status: l.action.endsWith("/complete") ? 404 : 400, target: expect.not.stringContaining("nnnnnnnnnn") });
    expect(lines.filter((l) => l.action === "POST /api/v1/register").every((l) => l.target === null)).toBe(true);
  });

  it("cuts fields copied from a request to 256 characters, and keeps 10 rotated files by default", async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-audit-"));
    const file = join(dir, "audit.log");
    server = await startTestServer({ app: { audit: { file } } });
    const longPath = `/nowhere/${"p".repeat(5000)}`;
    await server.api("POST", longPath, { body: {} });
    await server.api("POST", longPath, { body: {}, token: null });
    await server.close();
    server = undefined;
    const [line] = await readLines(file, 1);
    expect(line).toMatchObject({ actor: "admin", status: 404 });
    expect(line.action.length).toBe(256 + "POST ".length);
    const [refused] = await readLines(join(dir, "audit.refused.log"), 1);
    expect(refused.actions).toEqual([line.action]);
    const log = createAuditLog({ file: join(dir, "k.log"), maxBytes: 300 });
    for (let i = 0; i < 40; i++) log.write({ time: new Date().toISOString(), actor: "a", role: "node", address: "x", action: `POST /x/${i}`, target: null, status: 200, outcome: "ok" });
    await log.close();
    expect(readdirSync(dir).filter((f) => f.startsWith("k.log")).sort()).toEqual(["k.log", ...Array.from({ length: 10 }, (_, i) => `k.log.${i + 1}`)].sort());
  });
});

describe("refusal counter", () => {
  it("writes one line per address per window, and lumps addresses past its bound together", async () => {
    const lines: any[] = [];
    const counter = createRefusalCounter({ log: { write: (r) => void lines.push(r), close: async () => {} }, windowMs: 50 });
    for (let i = 0; i < 3; i++) counter.count("10.0.0.1", 401, "POST /api/v1/register", "anonymous");
    counter.count("10.0.0.2", 429, "GET /api/v1/tasks", "token:00000000");
    for (let i = 0; i < 200 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines).toEqual([
      expect.objectContaining({ address: "10.0.0.1", count: 3, statuses: { 401: 3 }, actions: ["POST /api/v1/register"], actors: ["anonymous"] }),
      expect.objectContaining({ address: "10.0.0.2", count: 1, statuses: { 429: 1 } }),
    ]);
    lines.length = 0;
    for (let i = 0; i < 10_005; i++) counter.count(`fd00::${i.toString(16)}`, 401, "POST /x", "anonymous");
    counter.close();
    expect(lines).toHaveLength(10_001);
    expect(lines.at(-1)).toMatchObject({ address: "other", count: 5 });
  });
});
