import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";
import { sleep, summarize } from "../lib/stats.mjs";
import { bulkCreate, bulkTask } from "./bulk-create.mjs";

const POOLS = ["cpu", "gpu", "tpu", "arm", "big"];
const REGIONS = ["us", "eu", "ap", "sa"];
/** Varied requirements: a fifth of the tasks fit anyone, the rest need a pool and often a region. */
const taskLabels = (i) => (i % 5 === 0 ? {} : i % 2 ? { pool: POOLS[i % 5] } : { pool: POOLS[i % 5], region: REGIONS[i % 4] });
const nodeLabels = (i) => ({ pool: POOLS[i % 5], region: REGIONS[i % 4] });

async function timed(n, concurrency, fn) {
  const samples = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await fn(i);
        samples.push(performance.now() - t0);
      }
    }),
  );
  return summarize(samples);
}

/**
 * Scenario 4: 10,000 registered nodes and 100,000 pending tasks with varied labels; then the p99
 * of claims and of pending lists, and the coordinator's RSS.
 */
export async function scale(coordinator, { nodes = 10_000, tasks = 100_000, samples = 1000 } = {}) {
  const api = createApi(coordinator.url, 64);
  // Tasks first, in batches (seconds, not minutes), then the nodes: a node registered before a
  // load longer than the offline threshold (90 s, no heartbeats here) could no longer claim.
  const load = await bulkCreate(coordinator, { tasks, batch: 1000, concurrency: 2, make: (i) => bulkTask(i, taskLabels(i)) });
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `scale-${i}`, capacity: { max_workers: 4 }, labels: nodeLabels(i) }));
  // Let the collector finish with the bulk load's garbage, and warm the paths, before measuring
  // the steady state (a full collection right after loading 100,000 tasks is not a claim's cost).
  await sleep(2000);
  await timed(200, 8, (i) => api.call("GET", `/tasks/pending?labels=pool:${nodeLabels(i).pool}&limit=50`));
  // The first answer of a route compiles its serializer (~40 ms, once): warm claims with nodes not measured.
  await timed(50, 8, (i) => api.call("POST", "/tasks/claim", { registration_id: regs[nodes - 1 - i], worker_name: "warm" }));
  const pending = await timed(samples, 8, (i) => {
    const l = nodeLabels(i);
    return api.call("GET", `/tasks/pending?labels=pool:${l.pool},region:${l.region}&limit=50`);
  });
  const claim = await timed(samples, 8, (i) => api.call("POST", "/tasks/claim", { registration_id: regs[i % nodes], worker_name: `w${i}` }));
  const rss = coordinator.rssMb();
  await api.close();
  return { nodes, tasks, load_tasks_per_second: load.tasks_per_second, pending_p50: pending.p50, pending_p99: pending.p99, claim_p50: claim.p50, claim_p99: claim.p99, rss_mb: rss };
}
