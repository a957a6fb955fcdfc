import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./stats.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(ROOT, "bin", "multiclaude-coord.js");
export const TOKEN = "bench-admin-token";

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Resident set size of a process in MB, from /proc. */
export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * A redis-server of our own on a free port, in a temp folder, without persistence; `extra` are
 * added to its arguments. `raw` runs `redis-server raw.args` (a sentinel) on `raw.port` instead.
 */
export async function startRedis(extra = [], raw) {
  const dir = raw?.dir ?? mkdtempSync(join(tmpdir(), "mcc-bench-redis-"));
  const port = raw?.port ?? (await freePort());
  const args = raw?.args ?? ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extra];
  const proc = spawn("redis-server", args, { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const sock = createServer().listen(port, "127.0.0.1");
      sock.on("listening", () => sock.close(() => resolve(false)));
      sock.on("error", () => resolve(true));
    });
    if (ok) break;
    await sleep(50);
  }
  const exited = new Promise((r) => proc.once("exit", r));
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    /** SIGKILL, as a crash. */
    kill: () => (proc.exitCode === null && proc.signalCode === null ? (proc.kill("SIGKILL"), exited) : Promise.resolve()),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The real coordinator (`multiclaude-coord serve`) in a child process, rate limits off,
 * on a store URL (`memory://`, `sqlite://…`, `redis://…`). `nodeArgs` (default: the words of
 * `$BENCH_NODE_ARGS`, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) go to its node process.
 */
export async function startCoordinator(store, extra = "", { nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "mcc-bench-"));
  const storeUrl = store === "sqlite" ? `sqlite://${join(dir, "bench.db")}` : store;
  const config = join(dir, "coordination.yaml");
  writeFileSync(
    config,
    `server:\n  listen_addr: "127.0.0.1:0"\n  auth:\n    tokens: ["${TOKEN}"]\n  rate_limit:\n    enabled: false\n    max_streams_per_token: 5000\nstore: "${storeUrl}"\n${extra}`,
  );
  const proc = spawn(process.execPath, [...nodeArgs, BIN, "--json", "serve", "--config", config, "--log-level", "silent"], {
    env: { ...process.env, HOME: dir, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (c) => (stderr += c));
  const info = await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (c) => {
      out += c;
      const end = out.indexOf("\n}");
      if (end >= 0) resolve(JSON.parse(out.slice(0, end + 2)));
    });
    proc.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return {
    url: info.url,
    pid: proc.pid,
    store: storeUrl,
    rssMb: () => rssMb(proc.pid),
    async stop() {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
