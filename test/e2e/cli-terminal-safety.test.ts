/**
 * Issue 11 defect 8: text from the coordinator (task descriptions, messages, reasons) reaches
 * the terminal with its control and bidi characters shown escaped, through the real binary, in
 * tables, show views, events and messages; `--json` carries them exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli, startServe, tempHome, type CliProcess } from "../cli/harness.js";

// A bidi override that shows "exe.txt" as "txt.exe", a C1 CSI (8-bit terminals obey it), a
// carriage return that would overwrite the line, a line separator and a pop-directional.
const HOSTILE = "invoice\u202Etxt.exe \u009b2J\rFAKE\u2028x\u2069";
const ESCAPED = "invoice\\u202etxt.exe \\x9b2J\\x0dFAKE\\u2028x\\u2069";
const RAW = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u2028\r]/;

let home: string;
let url: string;
let serve: CliProcess;
let taskId: string;
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url, ...env } });

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
  const created = await cli(["--json", "tasks", "create", "--repo", "web", "--description", HOSTILE]);
  expect(created.code, created.stderr).toBe(0);
  taskId = JSON.parse(created.stdout).id;
  expect((await cli(["register", "--node-id", "box"])).code).toBe(0);
  expect((await cli(["messages", "send", "--from", "lead@box", "--to", "worker@box", "--body", HOSTILE])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await serve?.stop("SIGTERM");
});

describe("human output escapes control and bidi characters", () => {
  for (const [name, args] of [
    ["tasks show", () => ["tasks", "show", taskId]],
    ["tasks list", () => ["tasks", "list"]],
    ["messages list", () => ["messages", "list"]],
    ["events", () => ["events", "--no-follow"]],
  ] as const) {
    it(`${name}: escaped, plain and in colour`, async () => {
      for (const env of [{}, { FORCE_COLOR: "1" }]) {
        const r = await cli([...args()], env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).not.toMatch(RAW);
        // Tables cut long cells and events quote text; what is shown is the escaped text.
        expect(r.stdout).toContain(name === "tasks show" ? ESCAPED : "invoice\\u202etxt.exe");
      }
    });
  }

  it("colour still works: our own styles pass, nothing else drives the terminal", async () => {
    const r = await cli(["tasks", "show", taskId], { FORCE_COLOR: "1" });
    const ESC = String.fromCharCode(27);
    expect(r.stdout).toContain(`${ESC}[1m`);
    // Every escape sequence left is a colour or style one.
    expect(r.stdout.split(ESC).slice(1).every((seq) => /^\[[0-9;]*m/.test(seq))).toBe(true);
  });

  it("--json carries the text exactly", async () => {
    const task = JSON.parse((await cli(["--json", "tasks", "show", taskId])).stdout);
    expect(task.description).toBe(HOSTILE);
    const messages = JSON.parse((await cli(["--json", "messages", "list"])).stdout).messages;
    expect(messages[0].body).toBe(HOSTILE);
  });
});
