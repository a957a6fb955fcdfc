import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";
import { sleep, summarize } from "../lib/stats.mjs";
import { bulkCreate, bulkTask } from "./bulk-create.mjs";

const POOLS = ["cpu", "gpu", "tpu", "arm", "big"];
const REGIONS = ["us", "eu", "ap", "sa"];
/** Varied requirements: a fifth of the tasks fit anyone, the rest need a pool and often a region. */
const taskLabels = (i) => (i % 5 === 0 ? {} : i % 2 ? { pool: POOLS[i % 5] } : { pool: POOLS[i % 5], region: REGIONS[i % 4] });
const nodeLabels = (i) => ({ pool: POOLS[i % 5], region: REGIONS[i % 4] });

/** `n` calls of `fn`, `concurrency` at a time, each sent as soon as the last of its lane is answered (saturation). */
async function inFlight(n, concurrency, fn) {
  const samples = [];
  let next = 0;
  const t0 = performance.now();
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
  return { ...summarize(samples), per_second: Math.round(n / ((performance.now() - t0) / 1000)) };
}

/**
 * `n` calls of `fn` sent at a steady `rate` per second whether or not earlier ones were answered
 * (an open loop, as clients of a fleet send), each timed from its send to its answer.
 */
async function paced(n, rate, fn) {
  const samples = [];
  const sent = [];
  const gap = 1000 / rate;
  const start = performance.now();
  for (let i = 0; i < n; ) {
    // Timers are late by a millisecond or more: send every call that is due, then sleep till the next.
    for (const due = Math.min(n, Math.floor((performance.now() - start) / gap) + 1); i < due; i++) {
      const t0 = performance.now();
      sent.push(fn(i).then(() => samples.push(performance.now() - t0)));
    }
    await sleep(Math.max(0, start + i * gap - performance.now()));
  }
  await Promise.all(sent);
  return summarize(samples);
}

/**
 * Scenario 4: 10,000 registered nodes and 100,000 pending tasks with varied labels; then the p99
 * of claims and of pending lists, and the coordinator's RSS. The p99s are of requests sent at a
 * steady `rate` (200/s, as claim-latency creates them): the latency of one request at 100,000
 * tasks. The same requests with 8 always in flight give the saturation figures (`*_8_in_flight`):
 * there each waits for the 7 before it, so their p99 is about 8 times the cost of one request on
 * this machine, whatever the store's index does (docs/performance.md, "Claims and pending lists
 * at 100,000 tasks").
 */
export async function scale(coordinator, { nodes = 10_000, tasks = 100_000, samples = 1000, rate = 200 } = {}) {
  const api = createApi(coordinator.url, 64);
  // Tasks first, in batches (seconds, not minutes), then the nodes: a node registered before a
  // load longer than the offline threshold (90 s, no heartbeats here) could no longer claim.
  const load = await bulkCreate(coordinator, { tasks, batch: 1000, concurrency: 2, make: (i) => bulkTask(i, taskLabels(i)) });
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `scale-${i}`, capacity: { max_workers: 4 }, labels: nodeLabels(i) }));
  // Let the collector finish with the bulk load's garbage, and warm the paths, before measuring
  // the steady state (a full collection right after loading 100,000 tasks is not a claim's cost).
  await sleep(2000);
  await inFlight(200, 8, (i) => api.call("GET", `/tasks/pending?labels=pool:${nodeLabels(i).pool}&limit=50`));
  // The first answer of a route compiles its serializer (~40 ms, once): warm claims with nodes not measured.
  await inFlight(50, 8, (i) => api.call("POST", "/tasks/claim", { registration_id: regs[nodes - 1 - i], worker_name: "warm" }));
  const list = (i) => {
    const l = nodeLabels(i);
    return api.call("GET", `/tasks/pending?labels=pool:${l.pool},region:${l.region}&limit=50`);
  };
  // Each claim is its node's first (a registration's later claims skip one lookup on Redis), the
  // nodes registered last first: no heartbeats are sent, and the first could near the offline threshold.
  const claim = (offset) => (i) => api.call("POST", "/tasks/claim", { registration_id: regs[(2 * nodes - 51 - offset - i) % nodes], worker_name: `w${offset + i}` });
  const pending = await paced(samples, rate, list);
  const claimed = await paced(samples, rate, claim(0));
  const pendingSat = await inFlight(samples, 8, list);
  const claimedSat = await inFlight(samples, 8, claim(samples));
  const rss = coordinator.rssMb();
  await api.close();
  return {
    nodes,
    tasks,
    rate,
    load_tasks_per_second: load.tasks_per_second,
    pending_p50: pending.p50,
    pending_p99: pending.p99,
    claim_p50: claimed.p50,
    claim_p99: claimed.p99,
    pending_p99_8_in_flight: pendingSat.p99,
    pending_per_second_8_in_flight: pendingSat.per_second,
    claim_p99_8_in_flight: claimedSat.p99,
    claims_per_second_8_in_flight: claimedSat.per_second,
    rss_mb: rss,
  };
}
