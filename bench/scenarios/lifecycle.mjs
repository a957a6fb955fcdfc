import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";

/**
 * Scenario 2: full lifecycle throughput. Producers create tasks as fast as they are answered;
 * nodes claim with a long poll and complete at once. Counts completed tasks per second.
 */
export async function lifecycle(coordinator, { producers = 16, nodes = 32, seconds = 5 } = {}) {
  const api = createApi(coordinator.url, producers + nodes + 4);
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `life-${i}`, capacity: { max_workers: 4 } }));
  let running = true;
  let completed = 0;
  let created = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const producerLoops = Array.from({ length: producers }, async () => {
    while (performance.now() < deadline) {
      await api.call("POST", "/tasks", { repo: "bench", description: "lifecycle" });
      created++;
    }
  });
  const nodeLoops = regs.map(async (registration_id, i) => {
    while (running) {
      const { task } = await api.call("POST", "/tasks/claim", { registration_id, worker_name: `w${i}`, wait_seconds: 1 });
      if (!task) continue;
      await api.call("POST", `/tasks/${task.id}/complete`, { registration_id });
      if (performance.now() <= deadline) completed++;
    }
  });
  await Promise.all(producerLoops);
  running = false;
  await Promise.all(nodeLoops);
  await api.close();
  const elapsed = (deadline - start) / 1000;
  return { tasks_per_second: Math.round(completed / elapsed), created_per_second: Math.round(created / elapsed), completed };
}
