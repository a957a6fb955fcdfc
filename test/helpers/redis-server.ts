import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** The `redis-server` binary on PATH, or undefined when it is not installed. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export interface RedisServer {
  url: string;
  port: number;
  /** Its temp folder (config files of a sentinel live there). */
  dir: string;
  pid: number;
  stop(): Promise<void>;
  /** SIGKILL, as a crash: no shutdown, nothing flushed. */
  kill(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts a throwaway `redis-server` on a free loopback port with its own temp folder and no
 * persistence (`extraArgs`, e.g. `--replicaof 127.0.0.1 PORT`, are added). `stop()` ends it and
 * removes the folder.
 */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "mcc-redis-"));
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no"];
  return spawnRedis([...args, ...extraArgs], port, dir);
}

/**
 * Runs `redis-server ARGS` (a server, or a sentinel with `CONF --sentinel`) that listens on
 * `port`, and waits until it accepts connections. Owns `dir`: removed on stop.
 */
export async function spawnRedis(args: string[], port: number, dir: string): Promise<RedisServer> {
  const bin = findRedisServer();
  if (!bin) throw new Error("redis-server is not installed (apt-get install redis-server); it is required when CI is set");
  const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    dir,
    pid: child.pid!,
    async stop() {
      if (!ended()) {
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (!ended()) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (ended()) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}
