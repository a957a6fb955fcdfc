import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { createApi } from "../lib/api.mjs";
import { TOKEN } from "../lib/processes.mjs";
import { sleep, summarize } from "../lib/stats.mjs";

const WORKER = new URL("../lib/sse-worker.mjs", import.meta.url);

function startWorker(url, count, measuring) {
  const worker = new Worker(WORKER, { workerData: { url, token: TOKEN, count, measuring } });
  const next = () => new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return {
    ready: next(),
    report: () => {
      const reply = next();
      worker.postMessage("report");
      return reply;
    },
    close: () => worker.postMessage("close"),
  };
}

/**
 * Scenario 5: 1,000 subscribers (in worker threads), 1,000 events/s; every event must reach every
 * subscriber; delay from the event's commit (`ts`) to its arrival.
 */
export async function sseFanout(coordinator, { subscribers = 1000, rate = 1000, seconds = 5, threads = 2, measuring = 50 } = {}) {
  const per = Math.ceil(subscribers / threads);
  const workers = Array.from({ length: threads }, (_, i) => startWorker(coordinator.url, Math.min(per, subscribers - i * per), Math.ceil(measuring / threads)));
  await Promise.all(workers.map((w) => w.ready));
  await sleep(300);
  const api = createApi(coordinator.url, 32);
  const total = rate * seconds;
  const start = performance.now();
  const creates = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    creates.push(api.call("POST", "/tasks", { repo: "bench", description: `sse ${i}` }));
    if (creates.length >= 200) await Promise.all(creates.splice(0));
  }
  await Promise.all(creates);
  const elapsed = (performance.now() - start) / 1000;
  let reports = [];
  for (const deadline = performance.now() + 15_000; performance.now() < deadline; await sleep(200)) {
    reports = await Promise.all(workers.map((w) => w.report()));
    if (reports.every((r) => r.counts.every((c) => c >= total))) break;
  }
  for (const w of workers) w.close();
  await api.close();
  const counts = reports.flatMap((r) => r.counts);
  const delays = reports.flatMap((r) => r.delays);
  return {
    subscribers,
    rate,
    events: total,
    achieved_rate: Math.round(total / elapsed),
    complete_subscribers: counts.filter((c) => c === total).length,
    gaps: reports.reduce((a, r) => a + r.gaps, 0),
    ...summarize(delays),
  };
}
