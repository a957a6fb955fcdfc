/**
 * `tasks import FILE.jsonl|-` through the real binary against a real `serve`: batches of 500,
 * the summary line, --json, stdin, a bad line that imports nothing (exit 2, its line named), a
 * refused batch named by its line (exit 4), and the progress bar on a terminal.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliEnv, runCli, serveForSuite } from "../cli/harness.js";
import { createTerminal, tmuxAvailable, visible } from "../cli/terminal.js";

const suite = serveForSuite();
const terminal = createTerminal();
afterAll(() => terminal.close());

const cli = (args: string[], input?: string) => runCli(args, { home: suite.home, env: { MULTICLAUDE_COORD_URL: suite.url }, input, timeoutMs: 60_000 });
const lines = (n: number, make: (i: number) => Record<string, unknown>) => `${Array.from({ length: n }, (_, i) => JSON.stringify(make(i))).join("\n")}\n`;
const file = (name: string, text: string) => {
  const path = join(suite.home, name);
  writeFileSync(path, text);
  return path;
};
const count = async (repo: string) => {
  const r = await cli(["--json", "tasks", "--repo", repo, "--all"]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { tasks: unknown[] }).tasks.length;
};

describe("tasks import", () => {
  it("imports 1,200 lines in batches, and a second run finds them all (idempotency keys)", async () => {
    const path = file("backlog.jsonl", lines(1200, (i) => ({ repo: "backlog", description: `item ${i}`, idempotency_key: `bl-${i}`, ...(i % 3 ? {} : { priority: "high" }) })));
    const first = await cli(["tasks", "import", path]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`imported 1200 tasks (0 already existed) from ${path}\n`);
    expect(first.stderr).toBe("");
    expect(await count("backlog")).toBe(1200);
    const again = await cli(["--json", "tasks", "import", path]);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout);
    expect(summary).toMatchObject({ file: path, imported: 1200, created: 0, existed: 1200 });
    expect(summary.tasks[1199]).toMatchObject({ line: 1200, created: false, id: expect.stringMatching(/^task-/) });
    expect(await count("backlog")).toBe(1200);
  });

  it("reads stdin with -, skipping blank lines", async () => {
    const r = await cli(["tasks", "import", "-"], `\n${lines(3, (i) => ({ repo: "piped", description: `p${i}`, labels: { pool: "gpu" } }))}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("imported 3 tasks (0 already existed) from stdin\n");
    expect(await count("piped")).toBe(3);
  });

  it("a bad line is one error naming it, exit 2, and nothing of the file is imported", async () => {
    const text = lines(700, (i) => ({ repo: "bad", description: `b${i}` })).split("\n");
    text[650] = JSON.stringify({ repo: "bad", description: "b650", priority: "urgent" });
    const path = file("bad.jsonl", text.join("\n"));
    const r = await cli(["tasks", "import", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: ${path}:651: priority: must be one of critical, high, medium, low; nothing was imported\n`);
    expect(r.stdout).toBe("");
    const notJson = await cli(["tasks", "import", file("nojson.jsonl", '{"repo":"bad","description":"x"}\n{oops\n')]);
    expect([notJson.code, notJson.stderr]).toEqual([2, expect.stringMatching(/nojson\.jsonl:2: not valid JSON .*nothing was imported\n$/)]);
    expect(await count("bad")).toBe(0);
  });

  it("a batch the coordinator refuses names its line, exit 4; the batches before it stay", async () => {
    const taken = await cli(["tasks", "create", "--repo", "clash", "--description", "first", "--idempotency-key", "clash-key"]);
    expect(taken.code, taken.stderr).toBe(0);
    const path = file("clash.jsonl", lines(600, (i) => ({ repo: "clash", description: `c${i}`, ...(i === 550 ? { idempotency_key: "clash-key" } : {}) })));
    const r = await cli(["tasks", "import", path]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^error: ${path}:551: idempotency_key was already used for a different task \\(IDEMPOTENCY_CONFLICT\\); the 500 tasks of earlier lines were imported\\n$`));
    expect(await count("clash")).toBe(1 + 500);
  });

  it.runIf(tmuxAvailable())("shows a progress bar on a terminal's stderr, and ends with the summary line", async () => {
    const path = file("tty.jsonl", lines(1500, (i) => ({ repo: "tty", description: `t${i}` })));
    const tty = await terminal.run(["tasks", "import", path], { width: 100, env: { ...cliEnv(suite.home, { MULTICLAUDE_COORD_URL: suite.url }), TERM: "xterm-256color" } });
    expect(tty.code).toBe(0);
    expect(tty.raw).toContain("importing [");
    expect(tty.raw).toMatch(/500\/1500 tasks/);
    expect(tty.raw).toMatch(/1500\/1500 tasks/);
    expect(tty.screen.trimEnd().split("\n").at(-1)).toBe(`imported 1500 tasks (0 already existed) from ${path}`);
    expect(visible(tty.raw)).not.toMatch(/error/);
  });
});
