import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Coordinator } from "../coordinator/index.js";
import type { FleetSnapshot } from "../coordinator/fleet-stats.js";
import type { StoreCounts } from "../store/types.js";

/**
 * The PRD's success measures as Prometheus series (docs/monitoring.md). Gauges are computed from
 * the store at scrape time, so every replica sharing a store reports the same values; histograms
 * and the offline counter count what this replica committed, so sums over replicas are right.
 */
export function installSuccessMetrics(registry: Registry, coordinator: Coordinator): (counts: StoreCounts, fleet: FleetSnapshot) => void {
  const registers = [registry];
  const latency = new Histogram({
    name: "mcc_task_claim_latency_seconds",
    help: "Wait of a claimable (pending) task until it was claimed: create→claim on a first claim",
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 14_400],
    registers,
  });
  const recovery = new Histogram({
    name: "mcc_task_recovery_seconds",
    help: "Time from a task becoming orphaned (lease ran out) to its claim by another worker",
    buckets: [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14_400],
    registers,
  });
  const offline = new Counter({ name: "mcc_node_offline_events_total", help: "Nodes marked offline (heartbeats stopped)", labelNames: ["node"] as const, registers });
  coordinator.onCommitted((e) => {
    if (e.type === "node.offline") offline.inc({ node: String(e.data.node_id) });
    if (e.type !== "task.claimed" || typeof e.data.waited_ms !== "number") return;
    if (e.data.from === "pending") latency.observe(e.data.waited_ms / 1000);
    else if (e.data.from === "orphaned") recovery.observe(e.data.waited_ms / 1000);
  });

  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
  const nodeBusy = gauge("mcc_node_workers_busy", "Tasks claimed by an online node", ["node"]);
  const nodeMax = gauge("mcc_node_workers_max", "Capacity (max_workers) of an online node", ["node"]);
  const busy = gauge("mcc_workers_busy", "Tasks claimed by online nodes");
  const max = gauge("mcc_workers_max", "Capacity of the online nodes");
  const utilisation = gauge("mcc_worker_utilisation", "mcc_workers_busy / mcc_workers_max (0 with no capacity)");
  const claimedRatio = gauge("mcc_tasks_claimed_ratio", "claimed / (claimed + pending + orphaned): the share of open work being worked on (0 with none)");
  const pendingRepo = gauge("mcc_pending_tasks", "Claimable (pending and orphaned) tasks by repo", ["repo"]);
  const oldestRepo = gauge("mcc_oldest_pending_age_seconds", "Age of the oldest claimable task by repo", ["repo"]);
  const pendingLabels = gauge("mcc_pending_tasks_by_labels", "Claimable tasks by label requirements (top label sets, the rest as other; none = no labels)", ["labels"]);
  const oldestLabels = gauge("mcc_oldest_pending_age_seconds_by_labels", "Age of the oldest claimable task by label requirements", ["labels"]);

  return (counts, fleet) => {
    // Reset first: a node, repo or label set that is gone must not linger with its last value.
    for (const g of [nodeBusy, nodeMax, pendingRepo, oldestRepo, pendingLabels, oldestLabels]) g.reset();
    for (const n of fleet.nodes) {
      nodeBusy.set({ node: n.node }, n.busy);
      nodeMax.set({ node: n.node }, n.max);
    }
    busy.set(fleet.workers.busy);
    max.set(fleet.workers.max);
    utilisation.set(fleet.workers.utilisation);
    const open = counts.tasks.claimed + counts.tasks.pending + counts.tasks.orphaned;
    claimedRatio.set(open > 0 ? counts.tasks.claimed / open : 0);
    for (const [repo, g] of Object.entries(fleet.pending_by_repo)) {
      pendingRepo.set({ repo }, g.count);
      oldestRepo.set({ repo }, g.oldest_age_seconds);
    }
    for (const [name, g] of Object.entries(fleet.pending_by_labels)) {
      pendingLabels.set({ labels: name || "none" }, g.count);
      oldestLabels.set({ labels: name || "none" }, g.oldest_age_seconds);
    }
  };
}
