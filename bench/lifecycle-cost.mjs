#!/usr/bin/env node
// `npm run build && node bench/lifecycle-cost.mjs [--stores memory,sqlite,redis,bullmq] [--tasks 5000] [--mode lifecycle|latency]`
// What one task's lifecycle costs, as counts no load on the machine changes: a fixed number of
// tasks goes through create → claim (long poll) → complete, and per task it reports the CPU time
// of the `serve` process, of redis-server and of this (client) process, the Redis commands sent
// (top level: each is one request to Redis; pipelined ones share a network round trip) and all
// commands run (scripts' own included), by name. `bullmq` runs the same work with BullMQ in this
// process on the same kind of redis-server, for the peer's figures.
//   --mode lifecycle: 16 producers create as fast as answered, 32 nodes claim and complete (the
//     lifecycle scenario, but a fixed count of tasks);
//   --mode latency: creates at 200/s, 50 long polls (the claim-latency scenario).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "./lib/api.mjs";
import { startCoordinator, startRedis } from "./lib/processes.mjs";
import { round, sleep, summarize } from "./lib/stats.mjs";

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const STORES = arg("--stores", "memory,sqlite,redis,bullmq").split(",");
const TASKS = Number(arg("--tasks", 5000));
const MODE = arg("--mode", "lifecycle");
// MONITOR tells a client's own commands from those its scripts run (source "lua"), at a CPU cost
// of its own on redis-server: with --monitor, the CPU figures of Redis runs are not comparable.
const MONITOR = args.includes("--monitor");
const { Redis } = await import("ioredis");

/** Sends `count` items at 200/s (open loop: each on time, not after the one before), stamping each send in `sentAt`. */
async function paced(count, sentAt, send) {
  const start = performance.now();
  const sent = [];
  for (let i = 0; i < count; i++) {
    const wait = start + i * 5 - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt[i] = performance.now();
    sent.push(send(i));
  }
  await Promise.all(sent);
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Every command run, by name (commandstats: scripts' own included), and the time spent in scripts (µs). */
async function redisCounts(admin) {
  const byName = {};
  let scriptUsec = 0;
  for (const m of (await admin.info("commandstats")).matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) {
    byName[m[1]] = Number(m[2]);
    if (m[1] === "evalsha" || m[1] === "eval") scriptUsec += Number(m[3]);
  }
  return { byName, scriptUsec };
}

/** The work of one run: `tasks` tasks created, claimed and completed; resolves when all are completed. */
async function coordinatorWork(url, tasks) {
  const lifecycle = MODE === "lifecycle";
  const nodes = lifecycle ? 32 : 50;
  const api = createApi(url, nodes + 20);
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `cost-${i}`, capacity: { max_workers: 4 } }));
  return async () => {
    let created = 0;
    let completed = 0;
    const latencies = [];
    const sentAt = [];
    let running = true;
    const workers = regs.map(async (registration_id, i) => {
      while (running) {
        const { task } = await api.call("POST", "/tasks/claim", { registration_id, worker_name: `w${i}`, wait_seconds: 1 });
        if (!task) continue;
        if (!lifecycle) latencies.push(performance.now() - sentAt[Number(task.description.slice(5))]);
        await api.call("POST", `/tasks/${task.id}/complete`, { registration_id });
        if (++completed === tasks) running = false;
      }
    });
    if (lifecycle) {
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (created < tasks) {
            created++;
            await api.call("POST", "/tasks", { repo: "bench", description: "lifecycle" });
          }
        }),
      );
    } else {
      await paced(tasks, sentAt, (i) => api.call("POST", "/tasks", { repo: "bench", description: `cost ${i}` }));
    }
    await Promise.all(workers);
    await api.close();
    return latencies;
  };
}

/** The same work with BullMQ in this process. */
async function bullmqWork(redisUrl, tasks) {
  const { Queue, Worker } = await import("bullmq");
  const u = new URL(redisUrl);
  const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
  const name = `cost-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const sentAt = [];
  const latencies = [];
  let completed = 0;
  let allDone;
  const done = new Promise((r) => (allDone = r));
  const lifecycle = MODE === "lifecycle";
  const worker = new Worker(
    name,
    async (job) => {
      if (!lifecycle) latencies.push(performance.now() - sentAt[job.data.i]);
    },
    { connection, concurrency: lifecycle ? 32 : 50 },
  );
  worker.on("completed", () => ++completed === tasks && allDone());
  await worker.waitUntilReady();
  return async () => {
    if (lifecycle) {
      let created = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (created < tasks) {
            created++;
            await queue.add("task", {}, { removeOnComplete: true });
          }
        }),
      );
    } else {
      await paced(tasks, sentAt, (i) => queue.add("task", { i }, { removeOnComplete: true }));
    }
    await done;
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    return latencies;
  };
}

const perTask = (x) => round(x / TASKS, 2);
const results = [];
for (const store of STORES) {
  const needsRedis = store === "redis" || store === "bullmq";
  const redis = needsRedis ? await startRedis() : undefined;
  const admin = redis ? new Redis(redis.url) : undefined;
  const redisPid = admin ? Number(/process_id:(\d+)/.exec(await admin.info("server"))[1]) : undefined;
  const coordinator = store === "bullmq" ? undefined : await startCoordinator(store === "redis" ? redis.url : store === "memory" ? "memory://" : store);
  try {
    const run = coordinator ? await coordinatorWork(coordinator.url, TASKS) : await bullmqWork(redis.url, TASKS);
    const sent = {};
    const watcher = MONITOR && admin ? admin.duplicate() : undefined;
    const monitor = await watcher?.monitor();
    monitor?.on("monitor", (_time, argv, source) => {
      if (source === "lua") return;
      const name = String(argv[0]).toLowerCase();
      if (name !== "info") sent[name] = (sent[name] ?? 0) + 1;
    });
    const before = { serve: coordinator ? cpuSeconds(coordinator.pid) : 0, redis: redisPid ? cpuSeconds(redisPid) : 0, client: selfCpu(), redisCounts: admin && (await redisCounts(admin)) };
    const t0 = performance.now();
    const latencies = await run();
    const wall = (performance.now() - t0) / 1000;
    monitor?.disconnect();
    watcher?.disconnect();
    const after = { serve: coordinator ? cpuSeconds(coordinator.pid) : 0, redis: redisPid ? cpuSeconds(redisPid) : 0, client: selfCpu(), redisCounts: admin && (await redisCounts(admin)) };
    const out = {
      store,
      mode: MODE,
      tasks: TASKS,
      tasks_per_second: Math.round(TASKS / wall),
      serve_cpu_us: perTask((after.serve - before.serve) * 1e6),
      redis_cpu_us: perTask((after.redis - before.redis) * 1e6),
      client_cpu_us: perTask((after.client - before.client) * 1e6),
    };
    if (admin) {
      if (monitor) {
        out.redis_requests = perTask(Object.values(sent).reduce((a, b) => a + b, 0));
        out.requests_by_command = Object.fromEntries(Object.entries(sent).sort((a, b) => b[1] - a[1]).map(([n, d]) => [n, perTask(d)]));
      }
      const names = Object.keys(after.redisCounts.byName);
      const delta = Object.fromEntries(
        names.map((n) => [n, after.redisCounts.byName[n] - (before.redisCounts.byName[n] ?? 0)]).filter(([n, d]) => d > 0 && n !== "info"),
      );
      // Time redis-server spent running scripts (its own clock; the scripts' commands included).
      out.script_us = perTask(after.redisCounts.scriptUsec - before.redisCounts.scriptUsec);
      out.redis_commands = perTask(Object.values(delta).reduce((a, b) => a + b, 0));
      out.by_command = Object.fromEntries(Object.entries(delta).sort((a, b) => b[1] - a[1]).map(([n, d]) => [n, perTask(d)]));
    }
    if (latencies.length) {
      const s = summarize(latencies.slice(Math.floor(latencies.length / 6)));
      out.latency_ms = { p50: round(s.p50), p99: round(s.p99), max: round(s.max) };
    }
    results.push(out);
    console.log(JSON.stringify(out));
  } finally {
    await coordinator?.stop();
    admin?.disconnect();
    await redis?.stop();
  }
}
