#!/usr/bin/env node
// `npm run build && node bench/claim-paths.mjs [--tasks 100000] [--rounds 4]`
// Redis claim-next in-process, the one-step Lua claim against the optimistic transaction, on one
// redis-server and one data set, in alternating turns (so a busy machine slows both alike):
//   - latency of single claims with N pending tasks (the scale scenario's labels and repos);
//   - Redis commands per claim (INFO commandstats), which no load on the machine changes, and
//     the time Redis spent in the scripts per claim (the least of the turns: load inflates it);
//   - claim + complete throughput of 32 concurrent workers on 16 nodes (contention).
import { performance } from "node:perf_hooks";
import { createCoordinator } from "../dist/coordinator/index.js";
import { createRedisStore } from "../dist/store/redis.js";
import { startRedis } from "./lib/processes.mjs";
import { round, summarize } from "./lib/stats.mjs";

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const TASKS = arg("--tasks", 100_000);
const ROUNDS = arg("--rounds", 4);
const POOLS = ["cpu", "gpu", "tpu", "arm", "big"];
const REGIONS = ["us", "eu", "ap", "sa"];
const taskLabels = (i) => (i % 5 === 0 ? {} : i % 2 ? { pool: POOLS[i % 5] } : { pool: POOLS[i % 5], region: REGIONS[i % 4] });
const nodeLabels = (i) => ({ pool: POOLS[i % 5], region: REGIONS[i % 4] });

const redis = await startRedis();
const store = await createRedisStore(redis.url, { keyPrefix: "paths:" });
const { claimNext: _lua, ...withoutLua } = store;
const paths = {
  lua: createCoordinator({ store }),
  optimistic: createCoordinator({ store: withoutLua }),
};
const raw = (await import("ioredis")).Redis;
const admin = new raw(redis.url);

/** Script runs (round trips: every read and commit of either path is a script), all commands (scripts' own included) and the µs Redis spent in scripts. */
async function commandCount() {
  const info = await admin.info("commandstats");
  let all = 0;
  let scripts = 0;
  let scriptUs = 0;
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
    all += Number(m[2]);
    if (m[1] === "evalsha" || m[1] === "eval") {
      scripts += Number(m[2]);
      scriptUs += Number(m[3]);
    }
  }
  return { all, scripts, scriptUs };
}

try {
  for (let at = 0; at < TASKS; at += 1000) {
    const batch = Array.from({ length: Math.min(1000, TASKS - at) }, (_, j) => {
      const i = at + j;
      return { repo: `repo-${i % 20}`, description: `claim paths ${i}`, priority: ["low", "medium", "high", "critical"][i % 4], labels: taskLabels(i) };
    });
    await paths.lua.tasks.createBatch(batch);
  }
  const regs = [];
  for (let i = 0; i < 1000; i++) {
    regs.push((await paths.lua.nodes.register({ node_id: `paths-${i}`, capacity: { max_workers: 1000 }, labels: nodeLabels(i) })).registration_id);
  }
  const samples = { lua: [], optimistic: [] };
  const commands = { lua: [], optimistic: [] };
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 ? ["optimistic", "lua"] : ["lua", "optimistic"]) {
      const before = await commandCount();
      const count = 250;
      for (let i = 0; i < count; i++, n++) {
        const t0 = performance.now();
        await paths[name].tasks.claimBest({ registration_id: regs[n % regs.length], worker_name: `w${n}` });
        samples[name].push(performance.now() - t0);
      }
      const after = await commandCount();
      // (The count includes the INFO call itself.)
      commands[name].push({ scripts: (after.scripts - before.scripts) / count, all: (after.all - before.all - 1) / count, us: (after.scriptUs - before.scriptUs) / count });
    }
  }
  const single = Object.fromEntries(
    Object.entries(samples).map(([name, s]) => {
      const sum = summarize(s);
      return [name, { p50_ms: round(sum.p50), p99_ms: round(sum.p99), max_ms: round(sum.max), scripts_per_claim: round(Math.min(...commands[name].map((c) => c.scripts)), 2), redis_commands_per_claim: round(Math.min(...commands[name].map((c) => c.all)), 1), redis_script_us_per_claim: round(Math.min(...commands[name].map((c) => c.us)), 1) }];
    }),
  );
  console.log(JSON.stringify({ pending: TASKS, single }, null, 1));

  // Contention: 16 nodes × 2 workers claim and complete as fast as answered, 3 s per turn.
  const workers = [];
  for (let i = 0; i < 16; i++) workers.push((await paths.lua.nodes.register({ node_id: `busy-${i}`, capacity: { max_workers: 2 }, labels: nodeLabels(i) })).registration_id);
  const throughput = { lua: [], optimistic: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 ? ["optimistic", "lua"] : ["lua", "optimistic"]) {
      const coord = paths[name];
      const end = performance.now() + 3000;
      let done = 0;
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          const reg = workers[w % 16];
          while (performance.now() < end) {
            const task = await coord.tasks.claimBest({ registration_id: reg, worker_name: `c${w}` }).catch(() => null);
            if (!task) continue;
            await coord.tasks.complete(task.id, { registration_id: reg });
            done++;
          }
        }),
      );
      throughput[name].push(Math.round(done / 3));
    }
  }
  console.log(JSON.stringify({ claim_complete_per_second: throughput }, null, 1));
} finally {
  await Promise.all(Object.values(paths).map((c) => c.stop()));
  admin.disconnect();
  await store.close();
  await redis.stop();
}
