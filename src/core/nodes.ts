import type { AgentSummary, NewEvent } from "./types.js";

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
 * cancellations) is written as usual.
 */
export function isRepeatHeartbeat<N extends { last_seen: string }>(before: N, after: N, nowMs: number, windowMs: number): boolean {
  if (!(nowMs - Date.parse(before.last_seen) < windowMs)) return false;
  return sameJsonFields(before as Record<string, unknown>, after as Record<string, unknown>, "last_seen");
}

/**
 * Whether two JSON values are the same value: what comparing their JSON texts said, without
 * writing either (this runs on every heartbeat; stringifying both records was a tenth of its
 * CPU). Fields whose value is `undefined` count as absent, as in JSON; the order of an object's
 * keys does not count, since it does not change what the object says.
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
  return sameJsonFields(a as Record<string, unknown>, b as Record<string, unknown>);
}

/** `sameJson` of two objects, not counting the field `except`. */
function sameJsonFields(a: Record<string, unknown>, b: Record<string, unknown>, except?: string): boolean {
  let count = 0;
  for (const k in a) {
    if (k === except || a[k] === undefined) continue;
    if (!Object.hasOwn(a, k) || !sameJson(a[k], b[k])) return false;
    count++;
  }
  for (const k in b) if (k !== except && b[k] !== undefined && Object.hasOwn(b, k)) count--;
  return count === 0;
}
