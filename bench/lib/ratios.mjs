// The issue-15 targets as ratios of one run: every figure beside its peer (BullMQ on the same
// redis-server, or the bare node:http server), so a loaded machine moves both sides alike.

const find = (runs, scenario, store) => runs.find((r) => r.scenario.startsWith(scenario) && (store === undefined || r.store === store));
const fmt = (x) => (Number.isFinite(x) ? Number(x.toFixed(2)) : "—");

/** Rows `{ratio, store, ours, peer, value, target, met}` for what the run measured. */
export function ratioRows(runs) {
  const rows = [];
  // `met` null: a figure shown for reference, with no target of its own.
  const add = (ratio, store, ours, peer, value, target, met) =>
    rows.push({ ratio, store, ours, peer, value: fmt(value), target, met: Number.isFinite(value) && met !== null ? (met ? "yes" : "NO") : "—" });
  const bullLife = find(runs, "BullMQ lifecycle");
  const bullLat = find(runs, "BullMQ add→process");
  for (const store of ["memory", "sqlite", "redis"]) {
    const life = find(runs, "lifecycle (tasks/s)", store);
    if (life && bullLife) {
      const v = life.tasks_per_second / bullLife.tasks_per_second;
      add("lifecycle ÷ BullMQ lifecycle", store, life.tasks_per_second, bullLife.tasks_per_second, v, store === "redis" ? "≥ 0.5" : "—", store !== "redis" || v >= 0.5);
    }
    const lat = find(runs, "create→claim latency (ms)", store);
    if (lat && bullLat) {
      const v = lat.p99 / bullLat.p99;
      add("create→claim p99 ÷ BullMQ add→process p99", store, lat.p99, bullLat.p99, v, "≤ 2", v <= 2);
    }
  }
  for (const store of ["memory", "sqlite", "redis"]) {
    const at = find(runs, "scale:", store);
    if (at) {
      add(`claim p99 at 100,000 tasks, ${at.rate ?? 200}/s (ms)`, store, at.claim_p99, 5, at.claim_p99, "≤ 5", at.claim_p99 <= 5);
      add(`pending-list p99 at 100,000 tasks, ${at.rate ?? 200}/s (ms)`, store, at.pending_p99, 5, at.pending_p99, "≤ 5", at.pending_p99 <= 5);
    }
    const bulk = find(runs, "bulk create", store);
    if (bulk && store === "sqlite") add("bulk create (tasks/s)", store, bulk.tasks_per_second, 20_000, bulk.tasks_per_second, "≥ 20000", bulk.tasks_per_second >= 20_000);
  }
  const hb = find(runs, "heartbeat");
  if (hb) {
    add("heartbeats ÷ bare node:http (req/s)", hb.store, hb.coordinator, hb.bare_node_http, hb.ratio, "≥ 0.8", hb.ratio >= 0.8);
    if (hb.cpu_ratio !== undefined) add("bare node:http CPU per request ÷ ours", hb.store, hb.cpu_us, hb.bare_cpu_us, hb.cpu_ratio, "(≥ 0.8)", hb.cpu_ratio >= 0.8);
    // The framework's ceiling (docs/performance.md): what a bare fastify route reaches, and ours against it.
    if (hb.bare_fastify !== undefined) {
      add("heartbeats ÷ bare fastify (req/s)", hb.store, hb.coordinator, hb.bare_fastify, hb.ratio_fastify, "—", null);
      add("bare fastify ÷ bare node:http (req/s)", hb.store, hb.bare_fastify, hb.bare_node_http, hb.fastify_ratio, "ceiling", null);
      add("bare fastify CPU per request ÷ ours", hb.store, hb.cpu_us, hb.fastify_cpu_us, hb.cpu_ratio_fastify, "—", null);
      add("bare node:http CPU per request ÷ bare fastify", hb.store, hb.fastify_cpu_us, hb.bare_cpu_us, hb.fastify_cpu_ratio, "ceiling", null);
    }
  }
  const failover = find(runs, "Sentinel failover");
  if (failover) add("Sentinel: kill → first claim (s)", "redis", failover.claim_ms, 30_000, failover.claim_ms / 1000, "≤ 30", failover.claim_ms <= 30_000);
  return rows;
}
