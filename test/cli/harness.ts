/**
 * Runs the real binary (`node bin/multiclaude-coord.js`, built from src first) in a temp HOME,
 * for the end-to-end suites in test/e2e/cli-*.test.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const BIN = join(ROOT, "bin", "multiclaude-coord.js");

import { afterAll, beforeAll, expect } from "vitest";
import { ensureBuilt as ensureBuiltOnce } from "../helpers/ensure-built.js";

export { ensureBuilt } from "../helpers/ensure-built.js";

export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), "mcc-e2e-"));
}

/** A clean environment: nothing of the developer's own config or tokens leaks in. */
export function cliEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, TMPDIR: process.env.TMPDIR, ...extra };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to the end. */
export function runCli(args: string[], options: { home: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? options.home, env: cliEnv(options.home, options.env) });
    // What the command reads on stdin (`-` for a file); none unless given.
    child.stdin.end(options.input ?? "");
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`multiclaude-coord ${args.join(" ")} did not finish\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A long-running CLI process (serve, events) whose output can be awaited. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(args: string[], options: { home: string; env?: NodeJS.ProcessEnv; cwd?: string }) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? options.home, env: cliEnv(options.home, options.env) });
    this.child.stdout!.on("data", (d: Buffer) => (this.stdout += d));
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d));
    this.exited = new Promise((r) => this.child.on("close", (code) => r(code)));
  }

  /** Waits until stdout (or stderr) matches. */
  async waitFor(pattern: RegExp, stream: "stdout" | "stderr" = "stdout", ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this[stream].match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${pattern} on ${stream}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** `serve` on port 0 with the memory store; the zero-config admin token lands in HOME. */
export async function startServe(home: string, extraArgs: string[] = []): Promise<{ url: string; proc: CliProcess }> {
  const proc = new CliProcess(["serve", "--listen", "127.0.0.1:0", "--store", "memory://", ...extraArgs], { home });
  const m = await proc.waitFor(/listening on (http:\/\/\S+)/);
  return { url: m[1]!, proc };
}

/**
 * One `serve` (memory store) for a whole test file, in its own HOME: started before the first
 * test, stopped (and checked to exit 0) after the last. Read `home` and `url` inside tests.
 */
export function serveForSuite(): { readonly home: string; readonly url: string } {
  const state = { home: "", url: "", proc: undefined as CliProcess | undefined };
  beforeAll(async () => {
    ensureBuiltOnce();
    state.home = tempHome();
    ({ url: state.url, proc: state.proc } = await startServe(state.home));
  }, 120_000);
  afterAll(async () => {
    expect(await state.proc?.stop("SIGTERM")).toBe(0);
  });
  return state;
}
