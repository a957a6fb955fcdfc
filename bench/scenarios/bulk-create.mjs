import { performance } from "node:perf_hooks";
import { createApi } from "../lib/api.mjs";
import { summarize } from "../lib/stats.mjs";

/** What the scale scenario loads too: varied repos, priorities and label requirements. */
export const bulkTask = (i, labels = {}) => ({ repo: `repo-${i % 20}`, description: `bulk ${i}`, priority: ["low", "medium", "high", "critical"][i % 4], labels });

/**
 * Scenario: bulk create. `tasks` tasks through `POST /tasks/batch`, `batch` per request,
 * `concurrency` requests in flight (an import sends one at a time; a few clients at once show
 * where the store tops out). Tasks per second over the whole run, and the p99 of one batch.
 */
export async function bulkCreate(coordinator, { tasks = 100_000, batch = 1000, concurrency = 2, make = (i) => bulkTask(i) } = {}) {
  const api = createApi(coordinator.url, concurrency);
  const batches = Math.ceil(tasks / batch);
  const samples = [];
  let next = 0;
  let created = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches) {
        const b = next++;
        const items = Array.from({ length: Math.min(batch, tasks - b * batch) }, (_, i) => make(b * batch + i));
        const s = performance.now();
        const out = await api.call("POST", "/tasks/batch", { tasks: items });
        samples.push(performance.now() - s);
        created += out.created.filter(Boolean).length;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await api.close();
  const lat = summarize(samples);
  return { tasks: created, batch, concurrency, tasks_per_second: Math.round(created / seconds), batch_p50: lat.p50, batch_p99: lat.p99 };
}
