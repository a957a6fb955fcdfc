import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commandFailure, fillCommand, parseWorkerName, resolveExecutable, runCommand, taskArgument } from "../../src/agent/worker-runner.js";

const dir = mkdtempSync(join(tmpdir(), "mcc-runner-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("fillCommand", () => {
  it("fills placeholders per argument, once, leaving unknown ones", () => {
    const argv = fillCommand(["multiclaude", "work", "--repo", "{repo}", "{description}", "{nope}"], {
      repo: "app",
      description: "fix {repo}; rm -rf / $(whoami)",
    });
    expect(argv).toEqual(["multiclaude", "work", "--repo", "app", "fix {repo}; rm -rf / $(whoami)", "{nope}"]);
  });

  it("keeps a task text that looks like a flag from being read as one", () => {
    expect(taskArgument("--repo=other")).toBe(" --repo=other");
    expect(taskArgument("fix it")).toBe("fix it");
  });
});

describe("parseWorkerName", () => {
  it("reads multiclaude's creation line among others", () => {
    const out = "Fetching...\nCreating worker 'happy-otter' in repo 'my-repo'\nWorktree: /x\n✓ Worker created successfully!\n";
    expect(parseWorkerName(out)).toEqual({ worker: "happy-otter", repo: "my-repo" });
    expect(parseWorkerName("Creating worker 'w1'")).toEqual({ worker: "w1", repo: undefined });
    expect(parseWorkerName("nothing here")).toBeUndefined();
  });
});

describe("running commands", () => {
  const script = join(dir, "tool");
  writeFileSync(script, "#!/bin/sh\necho \"args:$#:$1\"\necho oops >&2\nexit ${EXIT_WITH:-0}\n");
  chmodSync(script, 0o755);

  it("passes arguments without a shell and collects output", async () => {
    const r = await runCommand([script, "a b; echo pwned"]);
    expect(r).toMatchObject({ code: 0, stdout: "args:1:a b; echo pwned\n", stderr: "oops\n" });
  });

  it("reports exit codes and start failures without throwing", async () => {
    const r = await runCommand([script], { env: { ...process.env, EXIT_WITH: "3" } });
    expect(r.code).toBe(3);
    expect(commandFailure([script, "x"], r)).toMatch(/exited with code 3: oops/);
    const missing = await runCommand([join(dir, "missing")]);
    expect(missing.code).toBeNull();
    expect(missing.error).toMatch(/ENOENT/);
  });

  it("finds executables on PATH", () => {
    expect(resolveExecutable("tool", { PATH: `/nonexistent:${dir}` })).toBe(script);
    expect(resolveExecutable("tool", { PATH: "/nonexistent" })).toBeUndefined();
    expect(resolveExecutable(script, {})).toBe(script);
  });
});
