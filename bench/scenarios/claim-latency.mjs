import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";
import { sleep, summarize } from "../lib/stats.mjs";

/**
 * Scenario 1: 50 nodes long-poll `POST /tasks/claim`; tasks are created at a steady rate; the
 * latency is from sending the create to the node holding the claim answer.
 */
export async function claimLatency(coordinator, { nodes = 50, rate = 200, seconds = 5, warmupSeconds = 1 } = {}) {
  const api = createApi(coordinator.url, nodes + 16);
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
    creates.push(api.call("POST", "/tasks", { repo: "bench", description: `latency ${i}` }));
  }
  await Promise.all(creates);
  await sleep(500);
  running = false;
  await Promise.all(workers);
  await api.close();
  return { ...summarize(latencies), rate, nodes };
}
