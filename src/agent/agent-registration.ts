import type { AgentCore } from "./agent-core.js";
import { errorText, isTransient } from "./context.js";
import { MIN_HEARTBEAT_MS } from "./options.js";
import { backoff } from "./wait.js";

/**
 * Registers, retrying with backoff while the coordinator is unreachable; false if stopped
 * meanwhile. Sets the heartbeat interval. Throws when the coordinator refuses for good.
 */
export async function registerUntilDone(core: AgentCore): Promise<boolean> {
  const o = core.options;
  const request = {
    node_id: o.nodeId,
    hostname: o.hostname,
    labels: o.labels,
    capacity: { max_workers: o.maxWorkers, current_workers: core.held.size },
  };
  for (let failures = 0; ; ) {
    if (core.phase() !== "registering") return false;
    try {
      const res = await core.client.register(request);
      core.heartbeatMs = Math.max(MIN_HEARTBEAT_MS, o.heartbeatIntervalMs ?? (res.heartbeat_interval_seconds * 1000 || 30_000));
      core.log.log(
        "info",
        "agent.registered",
        `registered node ${o.nodeId} with ${core.client.url} (max_workers ${o.maxWorkers}, labels ${labelText(o.labels)}, heartbeat every ${core.heartbeatMs / 1000}s)`,
        { node_id: o.nodeId, max_workers: o.maxWorkers },
      );
      return true;
    } catch (err) {
      if (!isTransient(err)) throw err;
      failures++;
      const wait = backoff(failures, 500, 30_000);
      if (failures === 1 || failures % 10 === 0) {
        core.log.log("warn", "agent.register_failed", `cannot register yet (${errorText(err)}); retrying in ${(wait / 1000).toFixed(1)}s`, { failures });
      }
      await core.wake.heartbeat.wait(wait);
    }
  }
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(",") : "none";
}
