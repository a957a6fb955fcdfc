import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";
import { sleep, summarize } from "../lib/stats.mjs";

/**
 * `n` waiting tasks (DESIGN §11) that stay waiting through a run: half scheduled an hour ahead,
 * half depending on tasks no node can claim (labels nobody has), 500 dependents per anchor (one
 * task may have at most 1,000 waiting dependents). They must not slow claims.
 */
async function createWaiting(api, n) {
  const anchors = [];
  for (let a = 0; a < Math.ceil(n / 1000); a++) {
    anchors.push(await api.call("POST", "/tasks", { repo: "bench-waiting", description: `never claimed ${a}`, labels: { pool: "nobody" } }));
  }
  const notBefore = new Date(Date.now() + 3_600_000).toISOString();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < n; i = next++) {
        const body = { repo: "bench-waiting", description: `waiting ${i}` };
        await api.call("POST", "/tasks", i % 2 ? { ...body, not_before: notBefore } : { ...body, depends_on: [anchors[Math.floor(i / 1000)].id] });
      }
    }),
  );
}

/**
 * `n` pending tasks of one concurrency key whose limit (1) is taken by a claim that never ends,
 * ahead of everything else in claim order: every claim passes over them (DESIGN §11).
 */
async function createFullKey(api, n) {
  const key = { repo: "bench-keyed", concurrency_key: "bench-full", concurrency_limit: 1, priority: "critical" };
  const [holder] = await registerNodes(api, 1, () => ({ node_id: "key-holder", capacity: { max_workers: 1 } }));
  const first = await api.call("POST", "/tasks", { ...key, description: "held for the whole run" });
  await api.call("POST", `/tasks/${first.id}/claim`, { registration_id: holder, worker_name: "holder" });
  for (let i = 0; i < n; i++) await api.call("POST", "/tasks", { ...key, description: `full key ${i}` });
}

/**
 * Scenario 1: 50 nodes long-poll `POST /tasks/claim`; tasks are created at a steady rate; the
 * latency is from sending the create to the node holding the claim answer. `waiting`: that many
 * waiting tasks are present throughout (issue 14: claims must not regress with 10,000).
 * `keys`: each created task has one of that many concurrency keys (limit 8), and `fullKey`
 * tasks of a full key wait ahead of them in claim order (issue 14: concurrency keys).
 */
export async function claimLatency(coordinator, { nodes = 50, rate = 200, seconds = 5, warmupSeconds = 1, waiting = 0, keys = 0, fullKey = 0 } = {}) {
  const api = createApi(coordinator.url, nodes + 16);
  if (waiting > 0) await createWaiting(api, waiting);
  if (fullKey > 0) await createFullKey(api, fullKey);
  const keyOf = (i) => (keys > 0 ? { concurrency_key: `bench-${i % keys}`, concurrency_limit: 8 } : {});
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `lat-${i}`, capacity: { max_workers: 4 } }));
  // By the index in the description: the claim can come back before the create's own answer.
  const sentAt = [];
  const latencies = [];
  let running = true;

  const workers = regs.map(async (registration_id, i) => {
    while (running) {
      const { task } = await api.call("POST", "/tasks/claim", { registration_id, worker_name: `w${i}`, wait_seconds: 2 });
      if (!task) continue;
      const index = Number(task.description.slice("latency ".length));
      if (index >= warmupSeconds * rate) latencies.push(performance.now() - sentAt[index]);
      await api.call("POST", `/tasks/${task.id}/complete`, { registration_id, pr: "#1" });
    }
  });

  const total = Math.round((seconds + warmupSeconds) * rate);
  const interval = 1000 / rate;
  const start = performance.now();
  const creates = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt[i] = performance.now();
    creates.push(api.call("POST", "/tasks", { repo: "bench", description: `latency ${i}`, ...keyOf(i) }));
  }
  await Promise.all(creates);
  await sleep(500);
  running = false;
  await Promise.all(workers);
  await api.close();
  return { ...summarize(latencies), rate, nodes };
}
