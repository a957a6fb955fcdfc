#!/usr/bin/env node
// `npm run build && node bench/pending-micro.mjs [tasks]`: the store's own cost of the pending list
// at scale, without HTTP: 100,000 claimable tasks with the scale scenario's labels (loaded with
// createBatch), then 500 `listPending` calls per limit (50: GET /tasks/pending; 17: the heads a
// claim batch fetches; 1: one claim) for a node with a pool and a region. Memory, SQLite and
// Redis (its own redis-server; with the commands and the time inside Redis per call, from INFO
// commandstats, which other load on the machine changes less than the time seen by the caller).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCoordinator } from "../dist/coordinator/index.js";
import { createMemoryStore } from "../dist/store/memory.js";
import { createSqliteStore } from "../dist/store/sqlite.js";
import { createRedisStore } from "../dist/store/redis.js";
import { startRedis } from "./lib/processes.mjs";
import { round, summarize } from "./lib/stats.mjs";

const tasks = Number(process.argv[2] ?? 100_000);
const POOLS = ["cpu", "gpu", "tpu", "arm", "big"];
const REGIONS = ["us", "eu", "ap", "sa"];
const taskLabels = (i) => (i % 5 === 0 ? {} : i % 2 ? { pool: POOLS[i % 5] } : { pool: POOLS[i % 5], region: REGIONS[i % 4] });
const dir = mkdtempSync(join(tmpdir(), "mcc-pending-"));
const redis = await startRedis();
const admin = new (await import("ioredis")).Redis(redis.url);
/** Calls and microseconds of every command so far; scripts' own commands included in both. */
async function commandStats() {
  const info = await admin.info("commandstats");
  let calls = 0;
  let scriptUs = 0;
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
    if (m[1] === "info") continue;
    calls += Number(m[2]);
    if (m[1] === "evalsha" || m[1] === "eval") scriptUs += Number(m[3]);
  }
  return { calls, scriptUs };
}
try {
  const stores = [
    ["memory", async () => createMemoryStore()],
    ["sqlite", () => createSqliteStore(join(dir, "p.db"))],
    ["redis", () => createRedisStore(redis.url, { keyPrefix: "pending-micro:" })],
  ];
  for (const [name, open] of stores) {
    const store = await open();
    const coord = createCoordinator({ store });
    for (let b = 0; b * 1000 < tasks; b++) {
      const items = Array.from({ length: Math.min(1000, tasks - b * 1000) }, (_, j) => {
        const i = b * 1000 + j;
        return { repo: `repo-${i % 20}`, description: `scale ${i}`, priority: ["low", "medium", "high", "critical"][i % 4], labels: taskLabels(i) };
      });
      await coord.tasks.createBatch(items);
    }
    for (const limit of [50, 17, 1]) {
      const before = name === "redis" ? await commandStats() : undefined;
      const samples = [];
      for (let i = 0; i < 500; i++) {
        const t0 = performance.now();
        await store.listPending({ labels: { pool: POOLS[i % 5], region: REGIONS[i % 4] }, limit });
        samples.push(performance.now() - t0);
      }
      const s = summarize(samples);
      let inRedis = "";
      if (before) {
        const after = await commandStats();
        inRedis = `; Redis: ${round((after.calls - before.calls) / samples.length, 1)} commands, ${round((after.scriptUs - before.scriptUs) / samples.length, 1)} µs per call`;
      }
      console.log(`${name} listPending limit ${limit}: mean ${round(samples.reduce((a, b) => a + b, 0) / samples.length, 3)} ms, p50 ${round(s.p50, 3)}, p99 ${round(s.p99, 3)}${inRedis}`);
    }
    await coord.stop();
    await store.close();
  }
} finally {
  admin.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
