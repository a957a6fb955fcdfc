/** `doctor` and `config init` through the real binary (issue 13). */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { ensureBuilt, runCli, startServe, tempHome, type CliProcess } from "../cli/harness.js";

let home: string;
let url: string;
let serve: CliProcess;
/** A PATH with stand-ins for multiclaude and gh (only their presence is checked). */
let tools: string;

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
  tools = join(home, "bin");
  mkdirSync(tools);
  for (const name of ["multiclaude", "gh"]) {
    writeFileSync(join(tools, name), "#!/bin/sh\nexit 0\n");
    chmodSync(join(tools, name), 0o755);
  }
  writeFileSync(join(home, ".multiclaude", "state.json"), JSON.stringify({ repos: {} }));
}, 120_000);

afterAll(async () => {
  expect(await serve?.stop("SIGTERM")).toBe(0);
});

const doctor = (env: NodeJS.ProcessEnv, ...args: string[]) => runCli([...args, "doctor"], { home, env: { MULTICLAUDE_COORD_URL: url, ...env } });

describe("doctor", () => {
  it("one line per check, all good: exit 0", async () => {
    const r = await doctor({ PATH: `${tools}:${process.env.PATH}` });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[1])).toEqual(["config", "token", "coordinator", "auth", "clock", "multiclaude", "gh", "state.json"]);
    for (const l of lines) expect(l).toMatch(/^✓ /);
    expect(r.stdout).toMatch(/^✓ coordinator\s+http:\/\/127\.0\.0\.1:\d+ answers \(\d+ ms, plain HTTP\)$/m);
    expect(r.stdout).toMatch(/^✓ clock\s+/m);
    const json = JSON.parse((await doctor({ PATH: `${tools}:${process.env.PATH}` }, "--json")).stdout);
    expect(json.ok).toBe(true);
    expect(json.checks).toHaveLength(8);
  });

  it("exit 1 when a check fails: a bad token, an unreachable coordinator, a tool missing from PATH", async () => {
    const badToken = await doctor({ PATH: `${tools}:${process.env.PATH}`, MULTICLAUDE_COORD_TOKEN: "wrong" });
    expect(badToken.code).toBe(1);
    expect(badToken.stdout).toMatch(/^✗ auth\s+.*UNAUTHORIZED/m);
    const away = await doctor({ PATH: `${tools}:${process.env.PATH}` }, "--url", "http://127.0.0.1:9", "--timeout", "2");
    expect(away.code).toBe(1);
    expect(away.stdout).toMatch(/^✗ coordinator\s+cannot reach coordinator at http:\/\/127\.0\.0\.1:9/m);
    const noTools = await doctor({ PATH: process.env.PATH!.split(":").filter((d) => !d.includes(tools)).join(":") });
    expect(noTools.stdout).toMatch(/^✗ gh\s+not on PATH/m);
    expect(noTools.code).toBe(1);
  });
});

describe("config init", () => {
  it("writes a commented file for each role that loads as it is; refuses to overwrite without --force", async () => {
    const dir = tempHome();
    const init = (...args: string[]) => runCli(["config", "init", ...args], { home: dir });
    const coordinator = await init("--coordinator");
    expect(coordinator.code, coordinator.stderr).toBe(0);
    const file = join(dir, "coordination.yaml");
    expect(coordinator.stdout).toContain(`wrote ${file} (coordinator)`);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^# coordination\.yaml for the coordinator/);
    expect(text).toMatch(/listen_addr: ":7331" +# /);
    const loaded = await loadConfig({ configPath: file, cwd: dir, env: { HOME: dir } });
    expect(loaded.server.listen).toEqual({ host: "0.0.0.0", port: 7331 });

    expect((await init("--node")).code).toBe(2);
    const node = await init("--node", "--force");
    expect(node.code, node.stderr).toBe(0);
    const n = await loadConfig({ configPath: file, cwd: dir, env: { HOME: dir } });
    expect(n.coordination).toMatchObject({ server_url: "http://coordinator.internal:7331", labels: { pool: "cpu" }, max_workers: 1 });

    expect((await init()).code).toBe(2);
    expect((await init("--node", "--coordinator", "--file", "other.yaml")).code).toBe(2);
  });
});
