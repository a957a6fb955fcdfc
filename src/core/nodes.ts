import type { AgentSummary, NewEvent } from "./types.js";

function agentKey(a: AgentSummary): string {
  return `${a.repo ?? ""}\u0000${a.name}`;
}

/** The agent.spawned / agent.exited events between two heartbeats of one node. */
export function diffAgents(nodeId: string, before: AgentSummary[], after: AgentSummary[], ts: string): NewEvent[] {
  const prev = new Map(before.map((a) => [agentKey(a), a]));
  const next = new Map(after.map((a) => [agentKey(a), a]));
  const events: NewEvent[] = [];
  for (const [key, a] of next) {
    if (!prev.has(key)) {
      events.push({ type: "agent.spawned", data: { repo: a.repo ?? null, agent: a.name, node: nodeId, node_id: nodeId, type: a.type, ts } });
    }
  }
  for (const [key, a] of prev) {
    if (!next.has(key)) {
      events.push({ type: "agent.exited", data: { repo: a.repo ?? null, agent: a.name, node: nodeId, node_id: nodeId, type: a.type, ts } });
    }
  }
  return events;
}

/** Splits `agent@node`; a bare name gives node undefined. */
export function parseAddress(address: string): { agent: string; node?: string } {
  const at = address.lastIndexOf("@");
  if (at <= 0) return { agent: address };
  return { agent: address.slice(0, at), node: address.slice(at + 1) };
}
