import { execFile, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { createApi, registerNodes } from "../lib/api.mjs";
import { TOKEN } from "../lib/processes.mjs";

const LIB = join(dirname(fileURLToPath(import.meta.url)), "..", "lib");
const BODY = (registration_id) =>
  JSON.stringify({
    registration_id,
    status: "healthy",
    agents: [{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature" }],
    metrics: { cpu_percent: 45.2, memory_percent: 62.1 },
  });

/** `wrk` on PATH, or undefined. */
function findWrk() {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, "wrk"), constants.X_OK);
      return join(dir, "wrk");
    } catch {
      // not here
    }
  }
  return undefined;
}

/** CPU seconds (user + system) a process has used, from /proc (NaN elsewhere). */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Heartbeats with wrk (one thread, so the other core is the server's): requests per second and non-2xx. */
async function driveWrk(wrk, url, regsFile, { connections, seconds }) {
  const { stdout } = await promisify(execFile)(wrk, ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", join(LIB, "heartbeat.lua"), url, "--", TOKEN, regsFile]);
  const done = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0) + Number(/Socket errors: connect (\d+)/.exec(stdout)?.[1] ?? 0);
  return { done, rps: Math.round((done - errors) / seconds), errors };
}

/** The same with undici from this process (when wrk is not installed): this client saturates first. */
async function driveUndici(url, regs, { connections, seconds }) {
  const api = createApi(url, connections);
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const bodies = regs.map(BODY);
  let done = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = c; performance.now() < deadline; i += connections) {
        const res = await api.pool.request({ method: "POST", path: "/api/v1/heartbeat", headers, body: bodies[i % bodies.length] });
        await res.body.dump();
        if (res.statusCode === 200) done++;
        else errors++;
      }
    }),
  );
  await api.close();
  return { done: done + errors, rps: Math.round(done / seconds), errors };
}

/** A peer server of lib/ (`bare-server.mjs`, `bare-fastify.mjs`) in its own process. */
async function peerServer(script) {
  const proc = spawn(process.execPath, [join(LIB, script)], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => proc.stdout.once("data", (c) => resolve(Number(String(c).trim()))));
  return {
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid,
    stop: () => new Promise((r) => { proc.once("exit", r); proc.kill("SIGTERM"); }),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Scenario 3: heartbeats of 10,000 registered nodes against the coordinator and two peers, each
 * in its own process: a bare node:http server (the yardstick) and a bare fastify route
 * (the ceiling of any fastify app, which the coordinator is). In turns (coordinator, node:http,
 * fastify, coordinator, …: `rounds` rounds), so a machine whose speed drifts (other work beside
 * it) moves all alike. Load comes from wrk when installed (`generator: "wrk"`), else from undici
 * in this process. Also each server's CPU time per request (user + system, from /proc), which
 * other load on the machine moves less than throughput. Ratios are medians of the per-round ratios.
 */
export async function heartbeat(coordinator, { nodes = 10_000, seconds = 5, connections = 64, rounds = 3 } = {}) {
  const api = createApi(coordinator.url, 64);
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `hb-${i}`, capacity: { max_workers: 2 } }));
  await api.close();
  const wrk = findWrk();
  const dir = mkdtempSync(join(tmpdir(), "mcc-bench-hb-"));
  const regsFile = join(dir, "regs.txt");
  writeFileSync(regsFile, `${regs.join("\n")}\n`);
  const drive = (url) => (wrk ? driveWrk(wrk, url, regsFile, { connections, seconds }) : driveUndici(url, regs, { connections, seconds }));
  const measure = async ({ url, pid }) => {
    const cpu0 = cpuSeconds(pid);
    const r = await drive(url);
    return { ...r, cpu_us: ((cpuSeconds(pid) - cpu0) * 1e6) / Math.max(1, r.done) };
  };
  const bare = await peerServer("bare-server.mjs");
  const fastify = await peerServer("bare-fastify.mjs");
  try {
    for (const s of [coordinator, bare, fastify]) await drive(s.url); // warm-up of each
    const turns = [];
    for (let i = 0; i < rounds; i++) turns.push({ coord: await measure(coordinator), bare: await measure(bare), fastify: await measure(fastify) });
    const med = (f) => median(turns.map(f));
    return {
      generator: wrk ? "wrk" : "undici",
      nodes,
      rounds,
      coordinator_rps: med((t) => t.coord.rps),
      bare_rps: med((t) => t.bare.rps),
      fastify_rps: med((t) => t.fastify.rps),
      // The median of the per-round ratios: each round ran back to back.
      ratio: med((t) => t.coord.rps / t.bare.rps),
      ratio_fastify: med((t) => t.coord.rps / t.fastify.rps),
      fastify_ratio: med((t) => t.fastify.rps / t.bare.rps),
      coordinator_cpu_us: med((t) => t.coord.cpu_us),
      bare_cpu_us: med((t) => t.bare.cpu_us),
      fastify_cpu_us: med((t) => t.fastify.cpu_us),
      // CPU ratios the other way up (peer ÷ ours), so that, like the throughput ratios, 1 is parity.
      cpu_ratio: med((t) => t.bare.cpu_us / t.coord.cpu_us),
      cpu_ratio_fastify: med((t) => t.fastify.cpu_us / t.coord.cpu_us),
      fastify_cpu_ratio: med((t) => t.bare.cpu_us / t.fastify.cpu_us),
      errors: turns.reduce((n, t) => n + t.coord.errors, 0),
      turns: turns.map((t) => [t.coord.rps, t.bare.rps, t.fastify.rps]),
    };
  } finally {
    await Promise.all([bare.stop(), fastify.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
