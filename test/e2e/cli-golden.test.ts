/**
 * Golden output of `tasks list`, `nodes` and `status` at 80 and 160 columns, on a real terminal
 * (a tmux pane) and through a pipe (with $COLUMNS): one layout for both, only colour differs.
 * Values that change from run to run (ids, port, uptime, "just now") are replaced by
 * placeholders of the same width, so the alignment is compared too.
 *
 * A change to these views updates the files with `UPDATE_GOLDEN=1 npx vitest run test/e2e/cli-golden.test.ts`
 * (then read the diff: it is what users will see).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv, ensureBuilt, runCli, startServe, tempHome, type CliProcess } from "../cli/harness.js";
import { createTerminal, tmuxAvailable, visible } from "../cli/terminal.js";

const GOLDEN = join(import.meta.dirname, "golden");
let home: string;
let url: string;
let serve: CliProcess;
const terminal = createTerminal();
const env = () => ({ MULTICLAUDE_COORD_URL: url });
const cli = (...args: string[]) => runCli(args, { home, env: env() });

/** Same-width placeholders for what differs between runs. */
function normalise(text: string): string {
  const ids = new Map<string, string>();
  return text
    .replace(/task-[0-9a-z]{20}/g, (id) => {
      if (!ids.has(id)) ids.set(id, `task-${String(ids.size + 1).padStart(20, "0")}`);
      return ids.get(id)!;
    })
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>")
    .replace(/^(uptime\s+).*$/m, "$1<uptime>")
    .replace(/(p50|p99) \d+(\.\d)?(ms|s)/g, "$1 <ms>")
    .replace(/(just now|\d+s ago)( *)/g, (_m, t: string, pad: string) => "<ago>".padEnd(t.length + pad.length));
}

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual, `${file} (UPDATE_GOLDEN=1 to update)`).toBe(readFileSync(file, "utf8"));
}

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
  const token = readFileSync(join(home, ".multiclaude", "coordination-token"), "utf8").trim();
  /** A machine of its own (HOME with its own saved registration). */
  const machine = () => {
    const h = tempHome();
    return (...cmd: string[]) => runCli(cmd, { home: h, env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: token } });
  };
  const gpu = machine();
  const cpu = machine();
  expect((await gpu("register", "--node-id", "machine-b", "--label", "pool=gpu", "--label", "region=us-west-2", "--max-workers", "5")).code).toBe(0);
  expect((await cpu("register", "--node-id", "machine-c", "--label", "pool=cpu", "--max-workers", "2")).code).toBe(0);
  const create = async (...args: string[]) => (await cli("tasks", "create", "-q", ...args)).stdout.trim();
  const login = await create("--repo", "web", "--description", "Fix the login page: the session cookie is lost after the OAuth redirect", "--priority", "high", "--label", "pool=gpu");
  const docs = await create("--repo", "docs", "--description", "Document the install on a clean machine");
  const flaky = await create("--repo", "api", "--description", "Find out why test/e2e/store-redis-failover is flaky on two cores", "--priority", "critical");
  await create("--repo", "web", "--description", "Dark mode", "--priority", "low");
  expect((await gpu("tasks", "claim", login, "--worker", "worker-3")).code).toBe(0);
  expect((await cpu("tasks", "claim", docs, "--worker", "worker-1")).code).toBe(0);
  expect((await cpu("tasks", "complete", docs, "--pr", "#42")).code).toBe(0);
  expect((await cpu("tasks", "claim", flaky, "--worker", "worker-2")).code).toBe(0);
  expect((await cpu("tasks", "fail", flaky, "--reason", "cannot reproduce", "--no-retry")).code).toBe(0);
}, 120_000);

afterAll(async () => {
  terminal.close();
  expect(await serve?.stop("SIGTERM")).toBe(0);
});

const views: [string, string[]][] = [
  ["tasks", ["tasks", "list"]],
  ["nodes", ["nodes"]],
  ["status", ["status"]],
];

describe.each(views)("%s", (name, args) => {
  it.each([80, 160])("at %i columns: the golden layout, the same on a TTY as through a pipe", async (width) => {
    const piped = await runCli(args, { home, env: { ...env(), COLUMNS: String(width) } });
    expect(piped.code, piped.stderr).toBe(0);
    for (const line of piped.stdout.split("\n")) {
      expect(line, "no trailing spaces").not.toMatch(/\s$/);
      expect(line.length, line).toBeLessThanOrEqual(width);
    }
    golden(`${name}-${width}`, normalise(piped.stdout));
    if (!tmuxAvailable()) return;
    const tty = await terminal.run(args, { width, env: { ...cliEnv(home, env()), TERM: "xterm-256color" } });
    expect(tty.code).toBe(0);
    expect(tty.raw, "colour on a terminal").toContain("\x1b[");
    const seen = visible(tty.raw);
    for (const line of seen.split("\n")) expect(line, "no trailing spaces on the TTY").not.toMatch(/ $/);
    expect(normalise(seen)).toBe(normalise(piped.stdout));
  });
});

describe("Ctrl-C on a terminal", () => {
  it.runIf(tmuxAvailable())("events ends its output with a newline, so the prompt does not land on the ^C line; exit 0", async () => {
    const tty = await terminal.run(["events"], { width: 100, env: { ...cliEnv(home, env()), TERM: "xterm-256color" }, interrupt: { after: /Ctrl-C to stop/ } });
    expect(tty.code).toBe(0);
    // The terminal echoes ^C; what the command writes after it starts on a new line.
    expect(visible(tty.raw)).toMatch(/\n$/);
    expect(visible(tty.raw)).toMatch(/\^C\n$/);
  });
});
