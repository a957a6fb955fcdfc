#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --only claim-latency,heartbeat] [-- --stores memory,sqlite,redis]`
// Starts everything it needs on loopback, prints a table and writes bench/results/<time>.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCoordinator, startRedis } from "./lib/processes.mjs";
import { ratioRows } from "./lib/ratios.mjs";
import { round } from "./lib/stats.mjs";
import { claimLatency } from "./scenarios/claim-latency.mjs";
import { heartbeat } from "./scenarios/heartbeat.mjs";
import { lifecycle } from "./scenarios/lifecycle.mjs";
import { bullmqLatency, bullmqLifecycle } from "./scenarios/bullmq.mjs";
import { scale } from "./scenarios/scale.mjs";
import { bulkCreate } from "./scenarios/bulk-create.mjs";
import { soak } from "./scenarios/soak.mjs";
import { RETENTION_CONFIG, retentionSoak } from "./scenarios/retention-soak.mjs";
import { sseFanout } from "./scenarios/sse.mjs";
import { sentinelFailover } from "./scenarios/sentinel-failover.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const listArg = (name, all) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1].split(",") : all;
};
const stores = listArg("--stores", ["memory", "sqlite", "redis"]);
// The soaks run only when asked for (`--only soak,retention-soak`) or in a full run.
const only = listArg("--only", ["claim-latency", "claim-waiting", "claim-keyed", "lifecycle", "heartbeat", "bulk-create", "scale", "sse", "bullmq", "sentinel", ...(quick ? [] : ["soak", "retention-soak"])]);
const seconds = quick ? 2 : 10;

const results = { when: new Date().toISOString(), quick, machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memory_gb: round(totalmem() / 2 ** 30, 1), node: process.version }, runs: [] };
const rows = [];
const row = (scenario, store, figures, target) => {
  rows.push({ scenario, store, ...figures, target });
  results.runs.push({ scenario, store, ...figures, target });
  console.error(`  ${scenario} [${store}] ${JSON.stringify(figures)}`);
};

let redis;
let runs = 0;
/**
 * Where a scenario's coordinator keeps its state: memory and SQLite start empty each run, so on
 * the one shared redis-server each run gets its own key prefix (tasks left by one scenario, such as
 * claim-keyed's full key, would otherwise be skipped over by every claim of the next).
 */
async function storeUrl(store) {
  if (store !== "redis") return store === "memory" ? "memory://" : store;
  redis ??= await startRedis();
  return `${redis.url}${redis.url.includes("?") ? "&" : "?"}prefix=bench-${++runs}:`;
}

/** Runs `fn` against a fresh coordinator on `store`, and stops it afterwards. */
async function withCoordinator(store, fn, config = "") {
  const coordinator = await startCoordinator(await storeUrl(store), config);
  try {
    return await fn(coordinator);
  } finally {
    await coordinator.stop();
  }
}

try {
  for (const store of stores) {
    if (only.includes("claim-latency")) {
      const r = await withCoordinator(store, (c) => claimLatency(c, { seconds, rate: 200 }));
      row("create→claim latency (ms)", store, { p50: round(r.p50), p99: round(r.p99), max: round(r.max), samples: r.n }, store === "redis" ? "p99 ≤ 10" : "p99 ≤ 5");
    }
    if (only.includes("claim-waiting")) {
      // The same run as claim-latency, with 10,000 waiting tasks present (not_before and depends_on).
      const r = await withCoordinator(store, (c) => claimLatency(c, { seconds, rate: 200, waiting: 10_000 }));
      row("create→claim latency, 10,000 waiting (ms)", store, { p50: round(r.p50), p99: round(r.p99), max: round(r.max), samples: r.n }, "p99 ≈ claim-latency's");
    }
    if (only.includes("claim-keyed")) {
      // The same run with concurrency keys on every task (20 keys, limit 8), and 200 tasks of a
      // full key ahead of them in claim order that every claim passes over.
      const r = await withCoordinator(store, (c) => claimLatency(c, { seconds, rate: 200, keys: 20, fullKey: 200 }));
      row("create→claim latency, concurrency keys (ms)", store, { p50: round(r.p50), p99: round(r.p99), max: round(r.max), samples: r.n }, "p99 ≈ claim-latency's");
    }
    if (only.includes("lifecycle")) {
      const r = await withCoordinator(store, (c) => lifecycle(c, { seconds }));
      row("lifecycle (tasks/s)", store, { tasks_per_second: r.tasks_per_second, created_per_second: r.created_per_second }, store === "redis" ? "—" : "≥ 3000");
    }
  }
  for (const store of stores) {
    if (only.includes("bulk-create")) {
      const r = await withCoordinator(store, (c) => bulkCreate(c, { tasks: quick ? 20_000 : 100_000 }));
      row(
        "bulk create (tasks/s)",
        store,
        { tasks: r.tasks, batch: r.batch, concurrency: r.concurrency, tasks_per_second: r.tasks_per_second, batch_p99_ms: round(r.batch_p99) },
        store === "sqlite" ? "≥ 20000" : "—",
      );
    }
  }
  for (const store of stores) {
    if (only.includes("scale")) {
      const size = quick ? { nodes: 1000, tasks: 10_000, samples: 500 } : { nodes: 10_000, tasks: 100_000, samples: 1000 };
      const r = await withCoordinator(store, (c) => scale(c, size));
      row(
        "scale: claim / pending-list (ms), RSS (MB)",
        store,
        {
          nodes: r.nodes,
          tasks: r.tasks,
          rate: r.rate,
          claim_p99: round(r.claim_p99),
          pending_p99: round(r.pending_p99),
          claim_p99_8_in_flight: round(r.claim_p99_8_in_flight),
          claims_per_second_8_in_flight: r.claims_per_second_8_in_flight,
          pending_p99_8_in_flight: round(r.pending_p99_8_in_flight),
          pending_per_second_8_in_flight: r.pending_per_second_8_in_flight,
          rss_mb: Math.round(r.rss_mb),
        },
        "p99 ≤ 5, RSS ≤ 300",
      );
    }
  }
  if (only.includes("sse")) {
    const r = await withCoordinator("memory", (c) => sseFanout(c, { seconds: quick ? 2 : 10, subscribers: 1000, rate: 1000 }));
    row(
      "SSE fan-out delay (ms)",
      "memory",
      { subscribers: r.subscribers, events: r.events, complete_subscribers: r.complete_subscribers, achieved_rate: r.achieved_rate, p50: round(r.p50), p99: round(r.p99) },
      "all complete, p99 ≤ 100",
    );
  }
  if (only.includes("bullmq")) {
    redis ??= await startRedis();
    const lat = await bullmqLatency(redis.url, { seconds, rate: 200 });
    row("BullMQ add→process latency (ms)", "redis", { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max), samples: lat.n }, "peer");
    const life = await bullmqLifecycle(redis.url, { seconds });
    row("BullMQ lifecycle (tasks/s)", "redis", { tasks_per_second: life.tasks_per_second }, "peer");
  }
  if (only.includes("heartbeat")) {
    const r = await withCoordinator("memory", (c) => heartbeat(c, { seconds, nodes: quick ? 2000 : 10_000 }));
    row(
      `heartbeat (req/s, ${r.generator})`,
      "memory",
      {
        coordinator: r.coordinator_rps,
        bare_node_http: r.bare_rps,
        bare_fastify: r.fastify_rps,
        ratio: round(r.ratio),
        ratio_fastify: round(r.ratio_fastify),
        fastify_ratio: round(r.fastify_ratio),
        cpu_us: round(r.coordinator_cpu_us, 1),
        bare_cpu_us: round(r.bare_cpu_us, 1),
        fastify_cpu_us: round(r.fastify_cpu_us, 1),
        cpu_ratio: round(r.cpu_ratio),
        cpu_ratio_fastify: round(r.cpu_ratio_fastify),
        fastify_cpu_ratio: round(r.fastify_cpu_ratio),
        errors: r.errors,
        nodes: r.nodes,
      },
      "ratio ≥ 0.8",
    );
  }
  if (only.includes("sentinel")) {
    const runs = await sentinelFailover((url) => startCoordinator(url), { runs: quick ? 1 : 3 });
    const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    row("Sentinel failover: kill → first claim / create (ms)", "redis", { runs: runs.length, claim_ms: med("claim_ms"), create_ms: med("create_ms"), all: runs.map((r) => r.claim_ms).join(" ") }, "≤ 30000");
  }
  if (only.includes("soak")) {
    const minutes = Number(listArg("--soak-minutes", [quick ? "1" : "5"])[0]);
    const r = await withCoordinator("sqlite", (c) => soak(c, { minutes }));
    row("soak: RSS over time (MB)", "sqlite", { minutes: r.minutes, completed: r.completed, first: r.rss_first_mb, last: r.rss_last_mb, max: r.rss_max_mb, growth: r.rss_growth_mb }, "flat");
    results.soak_samples = r.samples;
  }
  if (only.includes("retention-soak")) {
    const minutes = Number(listArg("--soak-minutes", [quick ? "1" : "3"])[0]);
    results.retention_soak_samples = {};
    for (const store of stores) {
      const r = await withCoordinator(store, (c) => retentionSoak(c, { minutes }), RETENTION_CONFIG);
      row(
        "retention soak: stored vs made, RSS (MB)",
        store,
        {
          minutes: r.minutes,
          tasks_made: r.made.tasks,
          tasks_stored_max: r.tasks_stored_max,
          nodes_made: r.made.nodes,
          nodes_stored_max: r.nodes_stored_max,
          messages_made: r.made.messages,
          acked_stored_max: r.acked_stored_max,
          rss_first: r.rss_first_mb,
          rss_last: r.rss_last_mb,
          rss_max: r.rss_max_mb,
          growth: r.rss_growth_mb,
        },
        "stored and RSS flat",
      );
      results.retention_soak_samples[store] = r.samples;
    }
  }
} finally {
  await redis?.stop();
}

console.table(rows);
results.ratios = ratioRows(results.runs);
if (results.ratios.length) console.table(results.ratios);
const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `${results.when.replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.error(`results in ${file}`);
