import { describe, expect, it } from "vitest";
import { ApiError, ConnectionError } from "../../src/client/errors.js";
import { classifyError, UserError } from "../../src/cli/errors.js";
import { main } from "../../src/cli/main.js";
import { colorEnabled, Output } from "../../src/cli/output/output.js";
import { ConfigError } from "../../src/config/errors.js";

function sink(isTTY: boolean) {
  const s = { text: "", isTTY, write: (c: string) => ((s.text += c), true) };
  return s;
}

function output(opts: { tty?: boolean; json?: boolean; color?: boolean; env?: NodeJS.ProcessEnv }) {
  const stdout = sink(opts.tty ?? true);
  const stderr = sink(opts.tty ?? true);
  const out = new Output({ stdout, stderr, json: opts.json ?? false, color: opts.color ?? true, env: opts.env ?? { TERM: "xterm" } });
  return { out, stdout, stderr };
}

describe("output module", () => {
  it("colours only a terminal, and never with NO_COLOR, --no-color or --json", () => {
    const base = { stdout: { write: () => true, isTTY: true }, json: false, color: true, env: { TERM: "xterm" } };
    expect(colorEnabled(base)).toBe(true);
    expect(colorEnabled({ ...base, env: { TERM: "xterm", NO_COLOR: "1" } })).toBe(false);
    expect(colorEnabled({ ...base, color: false })).toBe(false);
    expect(colorEnabled({ ...base, json: true })).toBe(false);
    expect(colorEnabled({ ...base, stdout: { write: () => true, isTTY: false } })).toBe(false);
    const { out, stdout } = output({ env: { TERM: "xterm", NO_COLOR: "1" } });
    out.success("done");
    out.table(["A", "B"], [["1", "2"]]);
    expect(stdout.text).not.toContain("\x1b[");
  });

  it("--json keeps stdout to the data alone; notes go to stderr", () => {
    const { out, stdout, stderr } = output({ json: true });
    out.line("human");
    out.success("human");
    out.table(["A"], [["x"]]);
    out.result({ a: 1 }, () => out.line("human"));
    out.info("note");
    expect(JSON.parse(stdout.text)).toEqual({ a: 1 });
    expect(stderr.text).toBe("note\n");
  });

  it("spinners only on a terminal, never with --json", () => {
    const piped = output({ tty: false });
    piped.out.spinner("waiting").stop();
    expect(piped.stderr.text).toBe("");
    const json = output({ json: true });
    json.out.spinner("waiting").stop();
    expect(json.stderr.text).toBe("");
  });
});

describe("error → exit code", () => {
  it.each([
    [new ApiError(409, "TASK_CLAIMED", "task already claimed", { claimed_by: "w@n" }), 4, /claimed by w@n/],
    [new ApiError(404, "TASK_NOT_FOUND", "task x not found"), 3, /TASK_NOT_FOUND/],
    [new ApiError(401, "UNAUTHORIZED", "invalid token"), 5, /--token/],
    [new ApiError(403, "NOT_CLAIMANT", "not yours"), 5, /NOT_CLAIMANT/],
    [new ApiError(400, "INVALID_REQUEST", "bad", { fields: [{ field: "repo", message: "required" }] }), 2, /repo: required/],
    [new ApiError(429, "RATE_LIMITED", "slow down"), 1, /RATE_LIMITED/],
    [new ConnectionError("TIMEOUT", "http://x", "no answer"), 6, /no answer/],
    [new ConnectionError("UNREACHABLE", "http://x", "refused"), 6, /refused/],
    [new ConfigError(["server.listen_addr: bad", "tasks.claim_timeout: bad"]), 2, /server\.listen_addr: bad\n\s+tasks\.claim_timeout: bad/],
    [new UserError("give a task id"), 2, /give a task id/],
    [new TypeError("x is undefined"), 1, /internal error: x is undefined \(this is a bug/],
  ])("%s → %i", (err, code, message) => {
    const c = classifyError(err);
    expect(c.exitCode).toBe(code);
    expect(c.message).toMatch(message);
  });

  it("main prints one line on stderr and returns the code, without a stack", async () => {
    const stdout = sink(false);
    const stderr = sink(false);
    const code = await main(["node", "mcc", "--url", "http://127.0.0.1:9", "--timeout", "1", "status"], {
      stdout,
      stderr,
      env: { HOME: "/nonexistent-home" },
      cwd: "/",
    });
    expect(code).toBe(6);
    expect(stdout.text).toBe("");
    expect(stderr.text).toMatch(/^error: cannot reach coordinator at http:\/\/127\.0\.0\.1:9: connection refused\n$/);
    process.exitCode = 0;
  });
});
