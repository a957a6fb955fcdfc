import { execFile } from "node:child_process";
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

/** Runs an argv (no shell), collecting its output; never throws. */
export function runCommand(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.resolve({ code: null, stdout: "", stderr: "", error: "empty command" });
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string };
        if (typeof e.code === "number") return resolve({ code: e.code, stdout, stderr });
        const why = e.killed ? `timed out or killed (${e.signal ?? "signal"})` : e.code ? `${e.code}: ${e.message}` : e.message;
        resolve({ code: null, stdout, stderr, error: why });
      },
    );
  });
}

/** The last non-empty lines of a command's output, for a failure reason. */
export function outputTail(result: CommandResult, lines = 5): string {
  const text = `${result.stderr}\n${result.stdout}`.split(/\r?\n/).filter((l) => l.trim() !== "");
  return text.slice(-lines).join("\n").slice(0, 2000);
}

/** One line saying why a command did not succeed. */
export function commandFailure(argv: readonly string[], result: CommandResult): string {
  const what = argv.slice(0, 2).join(" ");
  const how = result.error ?? (result.code === null ? "was killed" : `exited with code ${result.code}`);
  const tail = outputTail(result);
  return `${what} ${result.error ? `failed: ${how}` : how}${tail ? `: ${tail}` : ""}`;
}
