/**
 * Issue 11 defect 7: the files `serve` creates hold every task text and message, so they are
 * mode 0600 even when ~/.multiclaude already exists with mode 0755 (as multiclaude creates it).
 * A real `serve` on its default SQLite file, with its zero-config token and an audit log.
 */
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/server/audit-log.js";
import { CliProcess, ensureBuilt, runCli, tempHome } from "../cli/harness.js";

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

let serve: CliProcess | undefined;
afterAll(async () => {
  await serve?.stop("SIGTERM");
});

describe("files serve creates are 0600", () => {
  it("database, WAL, token file and audit logs, in a ~/.multiclaude that is 0755", async () => {
    ensureBuilt();
    const home = tempHome();
    const mc = join(home, ".multiclaude");
    mkdirSync(mc, { mode: 0o755 });
    chmodSync(mc, 0o755);
    const config = join(home, "coordination.yaml");
    writeFileSync(config, `server:\n  audit:\n    file: ${join(mc, "audit.log")}\n`);
    serve = new CliProcess(["serve", "--config", config, "--listen", "127.0.0.1:0"], { home });
    const url = (await serve.waitFor(/listening on (http:\/\/\S+)/))[1]!;
    // A change (to the database, its WAL and the audit log) and a refused request (the refusals file).
    const env = { MULTICLAUDE_COORD_URL: url };
    expect((await runCli(["tasks", "create", "--repo", "r", "--description", "secret plan"], { home, env })).code).toBe(0);
    expect((await runCli(["status"], { home, env: { ...env, MULTICLAUDE_COORD_TOKEN: "wrong" } })).code).toBe(5);
    expect(await serve.stop("SIGTERM")).toBe(0);
    serve = undefined;

    const files = readdirSync(mc).sort();
    expect(files).toEqual(expect.arrayContaining(["audit.log", "audit.refused.log", "coordination-token", "coordination.db"]));
    expect(Object.fromEntries(files.map((f) => [f, mode(join(mc, f))]))).toEqual(Object.fromEntries(files.map((f) => [f, "600"])));
    expect(mode(mc)).toBe("755"); // the folder is multiclaude's; only our files are narrowed
  }, 60_000);

  it("the WAL while serve runs, and a database an older version left 0644", async () => {
    const home = tempHome();
    const db = join(home, "data", "coord.db");
    mkdirSync(join(home, "data"), { mode: 0o755 });
    writeFileSync(db, "");
    chmodSync(db, 0o644);
    serve = new CliProcess(["serve", "--store", `sqlite://${db}`, "--listen", "127.0.0.1:0"], { home });
    const url = (await serve.waitFor(/listening on (http:\/\/\S+)/))[1]!;
    expect((await runCli(["tasks", "create", "--repo", "r", "--description", "x"], { home, env: { MULTICLAUDE_COORD_URL: url } })).code).toBe(0);
    const live = readdirSync(join(home, "data")).sort();
    expect(live).toContain("coord.db-wal");
    for (const f of live) expect([f, mode(join(home, "data", f))]).toEqual([f, "600"]);
  }, 60_000);

  it("rotated audit files keep 0600", async () => {
    const dir = tempHome();
    const log = createAuditLog({ file: join(dir, "audit.log"), maxBytes: 200, keep: 3 });
    for (let i = 0; i < 20; i++) log.write({ time: new Date().toISOString(), actor: "a", role: "node", address: "x", action: `POST /x/${i}`, target: null, status: 200, outcome: "ok" });
    await log.close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]);
    for (const f of files) expect([f, mode(join(dir, f))]).toEqual([f, "600"]);
  });
});
