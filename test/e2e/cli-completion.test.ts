/**
 * Dynamic completion (issue 13): the bash script asks `multiclaude-coord __complete KIND` for
 * task ids, node ids, repos and event types, with a short timeout, and offers nothing extra
 * (silently) when the coordinator cannot answer. Driven through bash and the real binary.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bashCompletionScript } from "../cli/shell-completion.js";
import { BIN, ensureBuilt, runCli, startServe, tempHome, type CliProcess } from "../cli/harness.js";

const run = promisify(execFile);
let home: string;
let url: string;
let serve: CliProcess;
let shims: string;

/** What bash completion offers after `words` (the last one is being typed), as a user's shell would. */
async function complete(env: NodeJS.ProcessEnv, ...words: string[]): Promise<{ offers: string[]; stderr: string }> {
  const { stdout, stderr } = await run("bash", ["-c", bashCompletionScript(words)], { env: { PATH: `${shims}:${process.env.PATH}`, HOME: home, ...env }, cwd: home });
  return { offers: stdout.split("\n").filter(Boolean), stderr };
}

/** The offers that are not flags. */
async function values(env: NodeJS.ProcessEnv, ...words: string[]): Promise<string[]> {
  return (await complete(env, ...words)).offers.filter((w) => !w.startsWith("-"));
}

const cli = (...args: string[]) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url } });

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
  // `multiclaude-coord` on PATH, as after `npm install -g`.
  shims = join(home, "bin");
  mkdirSync(shims);
  writeFileSync(join(shims, "multiclaude-coord"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
  chmodSync(join(shims, "multiclaude-coord"), 0o755);
}, 120_000);

afterAll(async () => {
  expect(await serve?.stop("SIGTERM")).toBe(0);
});

describe("dynamic completion in bash", () => {
  it("offers task ids, node ids, repos and event types from the coordinator", async () => {
    expect((await cli("register", "--node-id", "comp-node")).code).toBe(0);
    const a = (await cli("tasks", "create", "-q", "--repo", "frontend", "--description", "a")).stdout.trim();
    const b = (await cli("tasks", "create", "-q", "--repo", "backend", "--description", "b")).stdout.trim();
    expect((await cli("tasks", "claim", b)).code).toBe(0);
    const env = { MULTICLAUDE_COORD_URL: url };

    expect((await complete(env, "tasks", "show", "")).offers).toEqual(expect.arrayContaining([a, b]));
    expect((await complete(env, "tasks", "claim", "task-")).offers).toEqual([a]); // only claimable ones
    expect(await values(env, "tasks", "complete", "")).toEqual([b]); // only this node's claims
    expect((await complete(env, "nodes", "show", "comp")).offers).toEqual(["comp-node"]);
    expect(await values(env, "state", "")).toEqual(["backend", "frontend"]);
    expect((await complete(env, "tasks", "--repo", "back")).offers).toEqual(["backend"]);
    expect((await complete(env, "events", "--type", "task.c")).offers).toEqual(expect.arrayContaining(["task.created", "task.claimed", "task.completed", "task.cancelled"]));
    // Flags are still flags: no coordinator values among them.
    expect((await complete(env, "tasks", "show", "--j")).offers).toEqual(["--json"]);
  });

  it("falls back silently and quickly when the coordinator is not there", async () => {
    const started = Date.now();
    const r = await complete({ MULTICLAUDE_COORD_URL: "http://127.0.0.1:9" }, "tasks", "show", "");
    expect(r.offers.every((w) => w.startsWith("--"))).toBe(true);
    expect(r.stderr).toBe("");
    expect(Date.now() - started).toBeLessThan(10_000);
    const hidden = await cli("--url", "http://127.0.0.1:9", "__complete", "tasks");
    expect(hidden).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect((await cli("--help")).stdout).not.toContain("__complete");
  });
});
