import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { Redis } from "ioredis";

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

/** The process id of the Redis answering on `port` (from `INFO server`), or undefined when none answers. */
async function pidOn(port: number): Promise<number | undefined> {
  const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 1000, enableReadyCheck: false });
  r.on("error", () => {});
  try {
    await r.connect();
    return Number(/process_id:(\d+)/.exec(await r.info("server"))?.[1]);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

/**
 * Starts a throwaway `redis-server` on a free loopback port with its own temp folder and no
 * persistence (`extraArgs`, e.g. `--replicaof 127.0.0.1 PORT`, are added). `stop()` ends it and
 * removes the folder.
 */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "mcc-redis-"));
  return spawnRedis(
    (port) => ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no", ...extraArgs],
    dir,
  );
}

/**
 * Runs `redis-server ARGS` (a server, or a sentinel with `CONF --sentinel`; `argsFor` gets the
 * port it must listen on, from `pickPort`: a free one) and waits until it answers there. Owns
 * `dir`: removed on stop.
 *
 * The port is free when picked, but another process may bind it before redis-server does (test
 * files run in parallel, each binding port 0 again and again): then redis-server exits with
 * "Address already in use", or the one that took the port answers. So readiness is the Redis on
 * the port naming our child's pid, and a start that lost its port is tried again on another.
 */
export async function spawnRedis(argsFor: (port: number) => string[], dir: string, pickPort: () => Promise<number> = freePort): Promise<RedisServer> {
  const bin = findRedisServer();
  let failure = "redis-server is not installed (apt-get install redis-server); it is required when CI is set";
  if (!bin) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(failure);
  }
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await pickPort();
    const started = await spawnOn(bin, argsFor(port), port, dir);
    if (typeof started !== "string") return started;
    failure = started;
    if (!/address already in use/i.test(started)) break;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(failure);
}

async function spawnOn(bin: string, args: string[], port: number, dir: string): Promise<RedisServer | string> {
  const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const deadline = Date.now() + 10_000;
  while ((await pidOn(port)) !== child.pid) {
    if (ended() || Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      return `redis-server did not start on port ${port}:\n${output}`;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
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
