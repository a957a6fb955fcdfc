import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, CliProcess, ensureBuilt, runCli, startServe, tempHome } from "../cli/harness.js";

/** The CI runner script of docs/cli.md, as a user would paste it. */
function ciScript(): string {
  const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
  const m = doc.match(/<!-- ci-script -->\n```bash\n([\s\S]*?)```/);
  if (!m) throw new Error("docs/cli.md lost its CI script");
  return m[1]!;
}

let home: string;
let url: string;
let serve: CliProcess;

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
}, 120_000);

afterAll(async () => {
  await serve?.stop();
});

describe("the CI runner script from docs/cli.md", () => {
  it("registers, waits for a task, works on it and completes it", async () => {
    // `multiclaude-coord` on PATH, as after `npm install -g`.
    const binDir = join(home, "bin");
    mkdirSync(binDir);
    writeFileSync(join(binDir, "multiclaude-coord"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(binDir, "multiclaude-coord"), 0o755);
    const script = join(home, "ci-runner.sh");
    writeFileSync(script, ciScript());
    const token = readFileSync(join(home, ".multiclaude", "coordination-token"), "utf8").trim();
    const ciHome = tempHome();
    const child = spawn("bash", [script], {
      cwd: ciHome,
      env: {
        PATH: `${binDir}:${process.env.PATH}`,
        HOME: ciHome,
        MULTICLAUDE_COORD_URL: url,
        MULTICLAUDE_COORD_TOKEN: token,
        CI_RUNNER_NAME: "runner-7",
        RUN_TASK: "echo working on it",
      },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", r));

    // The runner is waiting before the task exists: it gets it within the long poll.
    await new Promise((r) => setTimeout(r, 1500));
    const created = await runCli(["tasks", "create", "-q", "--repo", "web", "--description", "Nightly flaky-test sweep", "--label", "pool=ci"], {
      home,
      env: { MULTICLAUDE_COORD_URL: url },
    });
    const id = created.stdout.trim();
    expect(await exited, out).toBe(0);
    expect(out).toContain(`claimed ${id}`);
    const shown = await runCli(["--json", "tasks", "show", id], { home, env: { MULTICLAUDE_COORD_URL: url } });
    expect(JSON.parse(shown.stdout)).toMatchObject({ status: "completed", claimed_by: "ci@runner-7", result: { summary: expect.stringContaining("runner-7") } });
  });
});
