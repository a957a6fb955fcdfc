import type { AgentSummary, CancelledTask, NewEvent, NodeRecord, RepoReport } from "./types.js";

/**
 * Bounds of `capacity.max_workers` and `current_workers`, one for the API's schemas, the config
 * file and the CLI's flags (0 workers: a node that watches but never claims).
 */
export const WORKER_BOUNDS = { min: 0, max: 1024 } as const;

function agentKey(a: AgentSummary): string {
  return `${a.repo ?? ""}\u0000${a.name}`;
}

/**
 * The agent.spawned / agent.exited events between two heartbeats of one node.
 *
 * `fallbackRepo` is the repo an agent reported without `repo` counts for (the node's only
 * reported repo, see GET /state), before and after the heartbeat. Events carry that repo, so
 * they agree with the repo state and a stream filtered by `?repo=` sees them. (Bug fixed: the
 * events used to say `repo: null` for such agents while /state counted them for the repo.)
 */
export function diffAgents(
  nodeId: string,
  before: AgentSummary[],
  after: AgentSummary[],
  ts: string,
  fallbackRepo: { before?: string | null; after?: string | null } = {},
): NewEvent[] {
  const prev = new Map(before.map((a) => [agentKey(a), a]));
  const next = new Map(after.map((a) => [agentKey(a), a]));
  const events: NewEvent[] = [];
  for (const [key, a] of next) {
    if (!prev.has(key)) {
      const repo = a.repo ?? fallbackRepo.after ?? null;
      events.push({ type: "agent.spawned", data: { repo, agent: a.name, node: nodeId, node_id: nodeId, type: a.type, ts } });
    }
  }
  for (const [key, a] of prev) {
    if (!next.has(key)) {
      const repo = a.repo ?? fallbackRepo.before ?? null;
      events.push({ type: "agent.exited", data: { repo, agent: a.name, node: nodeId, node_id: nodeId, type: a.type, ts } });
    }
  }
  return events;
}

/** The repo that a node's agents reported without `repo` count for: its only reported repo, if it reports exactly one. */
export function onlyRepo(repos: readonly { name: string }[]): string | null {
  return repos.length === 1 ? repos[0]!.name : null;
}

/** The agents of a node that count for `repo` (an agent without `repo` counts for the node's only repo). */
export function agentsInRepo<A extends AgentSummary>(node: { agents: A[]; repos: readonly { name: string }[] }, repo: string): A[] {
  const fallback = onlyRepo(node.repos);
  return node.agents.filter((a) => (a.repo ?? fallback) === repo);
}

/** Splits `agent@node`; a bare name gives node undefined. */
export function parseAddress(address: string): { agent: string; node?: string } {
  const at = address.lastIndexOf("@");
  if (at <= 0) return { agent: address };
  return { agent: address.slice(0, at), node: address.slice(at + 1) };
}

/**
 * How long after its last stored sign of life a heartbeat that repeats a node's report unchanged
 * may go unwritten (DESIGN §4 liveness): half the heartbeat interval, and small enough against
 * the offline threshold and the claim timeout that neither can run out because of it. The
 * stored `last_seen` (which every replica's sweep reads) is then at most this much older than
 * the last heartbeat, and a node heartbeating every interval is still written on every one; what
 * it bounds is the writes of a node that heartbeats faster than that (with defaults: 15 s).
 */
export function repeatHeartbeatWindowMs(t: { heartbeatIntervalMs: number; offlineThresholdMs: number; claimTimeoutMs: number }): number {
  return Math.max(0, Math.min(t.heartbeatIntervalMs / 2, (t.offlineThresholdMs - t.heartbeatIntervalMs) / 4, t.claimTimeoutMs / 10));
}

/**
 * True when a heartbeat changes nothing but `last_seen`, and the stored `last_seen` is recent
 * (within `windowMs` of `nowMs`): nothing needs writing, no event is due and no lease is near
 * its end. Any other difference (status, health, agents, metrics, repos, capacity, expired
 * cancellations) is written as usual. The records are compared field by field (this runs on
 * every heartbeat; stringifying both records was a tenth of a heartbeat's CPU).
 */
export function isRepeatHeartbeat(before: NodeRecord, after: NodeRecord, nowMs: number, windowMs: number): boolean {
  if (!(nowMs - Date.parse(before.last_seen) < windowMs)) return false;
  for (const same of NODE_CHECKS) if (!same(before, after)) return false;
  return true;
}

type Same<T> = (a: T, b: T) => boolean;
/** Each field of `T` listed: the type makes a field added to `T` a compile error until it is listed here too. */
type Fields<T> = { [K in keyof Required<T>]: true };
function sameBy<T extends object>(fields: Fields<T>): Same<T> {
  const keys = Object.keys(fields) as (keyof T)[];
  return (a, b) => {
    if (a === b) return true;
    for (const k of keys) if (a[k] !== b[k]) return false;
    return true;
  };
}
function sameList<T>(a: readonly T[], b: readonly T[], item: Same<T>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!item(a[i]!, b[i]!)) return false;
  return true;
}
const sameAgent = sameBy<AgentSummary>({ name: true, type: true, status: true, task: true, repo: true, task_id: true });
const sameRepo = sameBy<RepoReport>({ name: true, active_prs: true });
const sameCancelled = sameBy<CancelledTask>({ task_id: true, cancelled_at: true });
const sameString: Same<string> = (a, b) => a === b;

/**
 * One check per field of a stored node (each reads its field by name, which is what makes this
 * cheap); `last_seen` is what a repeat may change. The type lists every field of NodeRecord, so
 * one added later cannot be forgotten here (a change of it would pass for a repeat and not be written).
 */
const NODE_FIELDS: { [K in keyof Required<NodeRecord>]: Same<NodeRecord> } = {
  id: (a, b) => a.id === b.id,
  hostname: (a, b) => a.hostname === b.hostname,
  capacity: (a, b) => a.capacity.max_workers === b.capacity.max_workers && a.capacity.current_workers === b.capacity.current_workers,
  labels: (a, b) => sameJson(a.labels, b.labels),
  status: (a, b) => a.status === b.status,
  health: (a, b) => a.health === b.health,
  registered_at: (a, b) => a.registered_at === b.registered_at,
  last_seen: () => true,
  agents: (a, b) => sameList(a.agents, b.agents, sameAgent),
  metrics: (a, b) => sameJson(a.metrics, b.metrics),
  repos: (a, b) => sameList(a.repos, b.repos, sameRepo),
  claimed_tasks: (a, b) => sameList(a.claimed_tasks, b.claimed_tasks, sameString),
  report_truncated: (a, b) => a.report_truncated === b.report_truncated,
  cordoned: (a, b) => a.cordoned === b.cordoned,
  registration_id: (a, b) => a.registration_id === b.registration_id,
  owner: (a, b) => a.owner === b.owner,
  cancelled_tasks: (a, b) => sameList(a.cancelled_tasks, b.cancelled_tasks, sameCancelled),
};
const NODE_CHECKS = Object.values(NODE_FIELDS);

/**
 * Whether two JSON values are the same value, as comparing their JSON texts would say, without
 * writing either. Fields whose value is `undefined` count as absent, as in JSON; the order of an
 * object's keys does not count, since it does not change what the object says.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    if (!Object.hasOwn(x, k) || !sameJson(x[k], y[k])) return false;
    count++;
  }
  for (const k in y) if (y[k] !== undefined && Object.hasOwn(y, k)) count--;
  return count === 0;
}
