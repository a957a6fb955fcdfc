import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** Values for the `{name}` placeholders of a configured command. */
export type CommandValues = Record<string, string>;

/**
 * Fills `{repo}`, `{description}` ... in each argument, in one pass (text put in is never
 * scanned again). Unknown placeholders stay as they are. The result is an argv for
 * execFile: no shell ever sees it, so a task text cannot run commands.
 */
export function fillCommand(template: readonly string[], values: CommandValues): string[] {
  return template.map((arg) => arg.replace(/\{([a-z_]+)\}/g, (whole, key: string) => (Object.hasOwn(values, key) ? values[key]! : whole)));
}

/**
 * A task text as one argument. One that starts with `-` would be read as a flag by
 * multiclaude's parser (`--repo=other`), so it gets a leading space.
 */
export function taskArgument(description: string): string {
  return description.startsWith("-") ? ` ${description}` : description;
}

/** `Creating worker 'NAME' in repo 'REPO'` → NAME (and REPO). */
export function parseWorkerName(output: string): { worker: string; repo?: string } | undefined {
  const m = /Creating worker '([^'\s]+)'(?: in repo '([^']+)')?/.exec(output);
  if (!m) return undefined;
  return { worker: m[1]!, repo: m[2] };
}

/** Where `cmd` would be found on PATH (or itself, when it has a slash); undefined if nowhere. */
export function resolveExecutable(cmd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const runnable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (cmd.includes("/")) return runnable(cmd) ? cmd : undefined;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const file = isAbsolute(dir) ? join(dir, cmd) : join(process.cwd(), dir, cmd);
    if (runnable(file)) return file;
  }
  return undefined;
}

export interface CommandResult {
  /** Exit code; null when killed by a signal or not started. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started or ran out of time. */
  error?: string;
}

export interface RunCommandOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
  /** Written to the command's stdin, which is then closed (default: nothing, stdin closed at once). */
  input?: string;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * Runs an argv (no shell), collecting its output; never throws. The command runs detached, in a
 * process group (and session) of its own, so what it leaves running (a worker) is not in the
 * agent's group: Ctrl-C in the agent's terminal, or the agent dying, never reaches it. A command
 * that runs out of time is killed with its whole group.
 */
export function runCommand(argv: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.resolve({ code: null, stdout: "", stderr: "", error: "empty command" });
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { env: options.env, cwd: options.cwd, detached: true, stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
    } catch (err) {
      resolve({ code: null, stdout: "", stderr: "", error: (err as Error).message });
      return;
    }
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (size >= MAX_OUTPUT) return;
      size += chunk.length;
      into.push(chunk);
    };
    child.stdout!.on("data", collect(out));
    child.stderr!.on("data", collect(errOut));
    // A command that exits before reading its input closes the pipe: not an error of ours.
    child.stdin!.on("error", () => {});
    child.stdin!.end(options.input ?? "");
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs ?? 120_000);
    let spawnError: string | undefined;
    child.once("error", (err: NodeJS.ErrnoException) => {
      spawnError = err.code ? `${err.code}: ${err.message}` : err.message;
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(errOut).toString("utf8");
      if (spawnError) return resolve({ code: null, stdout, stderr, error: spawnError });
      if (timedOut) return resolve({ code: null, stdout, stderr, error: `timed out after ${options.timeoutMs ?? 120_000} ms (killed)` });
      if (code === null) return resolve({ code: null, stdout, stderr, error: `killed (${signal ?? "signal"})` });
      resolve({ code, stdout, stderr });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone already
  }
}

/** The last non-empty lines of a command's output, for a failure reason. */
export function outputTail(result: CommandResult, lines = 5): string {
  // multiclaude writes its errors to stderr (`Error: ...`, then `Try: ...`): that is the reason.
  const source = result.stderr.trim() ? result.stderr : result.stdout;
  const text = source.split(/\r?\n/).filter((l) => l.trim() !== "");
  return text.slice(-lines).join("\n").slice(0, 2000);
}

/** One line saying why a command did not succeed. */
export function commandFailure(argv: readonly string[], result: CommandResult): string {
  const what = argv.slice(0, 2).join(" ");
  const how = result.error ?? (result.code === null ? "was killed" : `exited with code ${result.code}`);
  const tail = outputTail(result);
  return `${what} ${result.error ? `failed: ${how}` : how}${tail ? `: ${tail}` : ""}`;
}
