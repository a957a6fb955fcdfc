import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export const BIN = join(import.meta.dirname, "..", "..", "bin", "multiclaude-coord.js");

export interface ServeProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  tokenFile: string | null;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Spawns `multiclaude-coord --json serve ARGS` (the real binary) and waits until it listens. */
export async function spawnServe(args: string[], opts: { home: string; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [BIN, "--json", "serve", ...args], {
    cwd: opts.cwd ?? opts.home,
    env: { ...process.env, HOME: opts.home, NO_COLOR: "1", MULTICLAUDE_COORD_CONFIG: "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  proc.stderr!.on("data", (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const info = await new Promise<{ url: string; port: number; token_file: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 15_000);
    proc.stdout!.on("data", (c) => {
      out += c;
      const end = out.indexOf("\n}");
      if (end >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, end + 2)));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
  return {
    proc,
    url: info.url,
    port: info.port,
    tokenFile: info.token_file,
    stderr: () => err,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}
