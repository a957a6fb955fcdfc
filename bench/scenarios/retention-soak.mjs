import { performance } from "node:perf_hooks";
import { createApi } from "../lib/api.mjs";
import { sleep } from "../lib/stats.mjs";

/** Short retention for the soak: everything purgeable goes within ~20 s (DESIGN §10). */
export const RETENTION_CONFIG = `registration:
  heartbeat_interval: 1s
  offline_threshold: 3s
  forget_after: 10s
tasks:
  retention: 20s
messages:
  retention: 20s
`;

/** A heartbeat report of moderate size: a few agents with task texts (cut to 1 KiB when stored). */
const agents = (n) =>
  Array.from({ length: 4 }, (_, i) => ({ name: `worker-${i}`, type: "worker", status: "running", repo: "soak", task: `task ${n} `.padEnd(3000, "x") }));

/**
 * Retention soak: for `minutes`, tasks are created, claimed and completed, messages sent and
 * acked, and nodes come (with heartbeat reports), then leave or fall silent, all the time, with
 * retention short enough (RETENTION_CONFIG) that the sweeper purges as fast as the load adds.
 * Every 10 s it samples the coordinator's RSS and how many tasks, nodes and acked messages are
 * stored: with retention working, all of them level off while the totals made keep climbing.
 */
export async function retentionSoak(coordinator, { minutes = 3, taskRate = 150, messageRate = 100, nodesPerSecond = 10 } = {}) {
  const api = createApi(coordinator.url, 32);
  const deadline = performance.now() + minutes * 60_000;
  let running = true;
  const made = { tasks: 0, messages: 0, nodes: 0 };
  const samples = [];
  const worker = (await api.call("POST", "/register", { node_id: "soak-worker", capacity: { max_workers: 1024 } })).registration_id;

  const keepWorkerOnline = (async () => {
    while (running) {
      await api.call("POST", "/heartbeat", { registration_id: worker });
      await sleep(1000);
    }
  })();
  const tasks = (async () => {
    for (let i = 0; running; i++) {
      const task = await api.call("POST", "/tasks", { repo: "soak", description: `soak task ${i} `.padEnd(2000, "d") });
      await api.call("POST", `/tasks/${task.id}/claim`, { registration_id: worker, worker_name: "w" });
      await api.call("POST", `/tasks/${task.id}/complete`, { registration_id: worker, pr: `#${i}`, summary: "done ".repeat(100) });
      made.tasks++;
      await sleep(1000 / taskRate);
    }
  })();
  const messages = (async () => {
    for (let i = 0; running; i++) {
      const m = await api.call("POST", "/messages", { from: "lead@hq", to: "w@soak-worker", body: `message ${i} `.padEnd(1000, "m") });
      await api.call("POST", `/messages/${m.id}/ack`, {});
      made.messages++;
      await sleep(1000 / messageRate);
    }
  })();
  // Nodes churn: each lives ~5 s with heartbeats, then half deregister and half fall silent.
  const churn = (async () => {
    const living = [];
    for (let n = 0; running; n++) {
      const born = await Promise.all(
        Array.from({ length: nodesPerSecond }, async (_, i) => {
          const id = `churn-${n}-${i}`;
          const { registration_id } = await api.call("POST", "/register", { node_id: id, capacity: { max_workers: 4 } });
          made.nodes++;
          return { registration_id, leave: n + 5, deregister: i % 2 === 0 };
        }),
      );
      living.push(...born);
      await Promise.all(living.map((x) => api.call("POST", "/heartbeat", { registration_id: x.registration_id, agents: agents(n) })));
      for (const x of living.filter((y) => y.leave <= n)) {
        if (x.deregister) await api.call("POST", "/deregister", { registration_id: x.registration_id });
        living.splice(living.indexOf(x), 1);
      }
      await sleep(1000);
    }
  })();

  const start = performance.now();
  while (performance.now() < deadline) {
    await sleep(10_000);
    const status = await api.call("GET", "/status");
    let acked = 0;
    for (let cursor = ""; ; ) {
      const page = await api.call("GET", `/messages?status=acked&limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
      acked += page.messages.length;
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    samples.push({
      t: Math.round((performance.now() - start) / 1000),
      rss_mb: Math.round(coordinator.rssMb()),
      tasks_stored: status.tasks.total,
      nodes_stored: status.nodes.total,
      acked_stored: acked,
      made: { ...made },
    });
    console.error(`    retention soak ${JSON.stringify(samples.at(-1))}`);
  }
  running = false;
  await Promise.all([keepWorkerOnline, tasks, messages, churn]);
  await api.close();
  const half = Math.floor(samples.length / 2);
  const mean = (xs, key) => xs.reduce((a, s) => a + s[key], 0) / Math.max(1, xs.length);
  const max = (key) => Math.max(...samples.map((s) => s[key]));
  return {
    minutes,
    made,
    tasks_stored_max: max("tasks_stored"),
    nodes_stored_max: max("nodes_stored"),
    acked_stored_max: max("acked_stored"),
    rss_first_mb: samples[0]?.rss_mb,
    rss_last_mb: samples.at(-1)?.rss_mb,
    rss_max_mb: max("rss_mb"),
    // Growth between the first and second half of the run: flat is ~0.
    rss_growth_mb: Math.round(mean(samples.slice(half), "rss_mb") - mean(samples.slice(0, half), "rss_mb")),
    samples,
  };
}
