import { request } from "node:http";
import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";
import { TOKEN } from "../lib/processes.mjs";
import { sleep } from "../lib/stats.mjs";

/** An SSE subscriber that only counts bytes; reconnects are not expected during a soak. */
function subscriber(url) {
  let bytes = 0;
  const req = request(`${url}/api/v1/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => res.on("data", (c) => (bytes += c.length)));
  req.on("error", () => {});
  req.end();
  return { bytes: () => bytes, close: () => req.destroy() };
}

/**
 * Memory soak: steady mixed load (heartbeats, create→claim→complete with long polls, SSE
 * subscribers that come and go) for `minutes`; the coordinator's RSS is sampled every 10 s.
 * A leak in streams, long polls or sweeps shows as RSS that keeps climbing.
 */
export async function soak(coordinator, { minutes = 5, rate = 200, nodes = 200, subscribers = 50 } = {}) {
  const api = createApi(coordinator.url, 64);
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `soak-${i}`, capacity: { max_workers: 2 } }));
  const deadline = performance.now() + minutes * 60_000;
  let running = true;
  let completed = 0;
  const samples = [];

  const workers = regs.slice(0, 50).map(async (registration_id, i) => {
    while (running) {
      const { task } = await api.call("POST", "/tasks/claim", { registration_id, worker_name: `w${i}`, wait_seconds: 2 });
      if (task) {
        await api.call("POST", `/tasks/${task.id}/complete`, { registration_id, pr: "#1" });
        completed++;
      }
    }
  });
  const heartbeats = (async () => {
    while (running) {
      await Promise.all(regs.map((registration_id) => api.call("POST", "/heartbeat", { registration_id, metrics: { cpu_percent: 10 } })));
      await sleep(1000);
    }
  })();
  const producer = (async () => {
    for (let i = 0; running; i++) {
      await api.call("POST", "/tasks", { repo: "soak", description: `soak ${i}` });
      await sleep(1000 / rate);
    }
  })();
  // Subscribers churn: every 10 s a fifth of them leave and new ones arrive.
  let subs = Array.from({ length: subscribers }, () => subscriber(coordinator.url));
  const start = performance.now();
  while (performance.now() < deadline) {
    await sleep(10_000);
    samples.push({ t: Math.round((performance.now() - start) / 1000), rss_mb: Math.round(coordinator.rssMb()) });
    const leaving = subs.splice(0, Math.ceil(subscribers / 5));
    for (const s of leaving) s.close();
    subs.push(...leaving.map(() => subscriber(coordinator.url)));
  }
  running = false;
  await Promise.all([...workers, heartbeats, producer]);
  for (const s of subs) s.close();
  await api.close();
  const half = Math.floor(samples.length / 2);
  const mean = (xs) => xs.reduce((a, s) => a + s.rss_mb, 0) / Math.max(1, xs.length);
  return {
    minutes,
    completed,
    rss_first_mb: samples[0]?.rss_mb,
    rss_last_mb: samples.at(-1)?.rss_mb,
    rss_max_mb: Math.max(...samples.map((s) => s.rss_mb)),
    // Growth between the first and second half of the run: flat is ~0.
    rss_growth_mb: Math.round(mean(samples.slice(half)) - mean(samples.slice(0, half))),
    samples,
  };
}
