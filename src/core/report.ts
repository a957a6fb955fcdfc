import type { AgentSummary, NodeMetrics, RepoReport } from "./types.js";

/** The most a node's stored heartbeat report (agents, metrics, repos) takes, as JSON (DESIGN §10). */
export const MAX_REPORT_BYTES = 64 * 1024;
/** The most of one agent's task text that is kept (UTF-8 bytes, the cut mark included). */
export const MAX_AGENT_TASK_BYTES = 1024;
/** When the report is still too large: task texts are cut to this much, before agents are dropped. */
const SHORT_TASK_BYTES = 128;
const CUT_MARK = "…";
const SMALL_REPORT_ENTRIES = 16;

export interface NodeReport {
  agents: AgentSummary[];
  metrics: NodeMetrics;
  repos: RepoReport[];
}

/** Cuts `text` to at most `maxBytes` of UTF-8 (ending with "…" when cut), never inside a character. */
export function cutText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(CUT_MARK);
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > budget) break;
    bytes += size;
    end += ch.length;
  }
  return text.slice(0, end) + CUT_MARK;
}

const sizeOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

function withTasksCut(agents: AgentSummary[], maxBytes: number): AgentSummary[] {
  return agents.map((a) => (a.task && Buffer.byteLength(a.task) > maxBytes ? { ...a, task: cutText(a.task, maxBytes) } : a));
}

/** Keeps the longest head of `items` whose JSON fits in `budget` bytes. */
function headThatFits<T>(items: T[], budget: number): T[] {
  let used = 2; // []
  let n = 0;
  for (; n < items.length; n++) {
    used += sizeOf(items[n]) + (n > 0 ? 1 : 0);
    if (used > budget) break;
  }
  return items.slice(0, n);
}

/**
 * A node's report as it is stored: what a node sends is kept, not refused (a refused heartbeat
 * would take the node offline), but bounded. Each agent's task text is cut to 1 KiB; if the
 * report is still over 64 KiB, task texts are cut to 128 bytes, then the agents past the limit
 * are left out (the first ones, in the node's order, stay; repos keep up to 16 KiB of it). `truncated`
 * says whether anything was cut. The schema already bounds how many agents, repos and metrics a
 * heartbeat may carry.
 */
export function capReport(report: NodeReport): NodeReport & { truncated: boolean } {
  let agents = withTasksCut(report.agents, MAX_AGENT_TASK_BYTES);
  let truncated = agents.some((a, i) => a !== report.agents[i]);
  let repos = report.repos;
  // Few entries cannot reach the limit (an agent is at most ~3.2 KiB of JSON once its task is
  // cut, a repo ~0.2 KiB, 32 metrics ~3 KiB): the common heartbeat skips measuring.
  if (agents.length + repos.length <= SMALL_REPORT_ENTRIES) return { agents, metrics: report.metrics, repos, truncated };
  const total = () => sizeOf({ agents, metrics: report.metrics, repos });
  if (total() > MAX_REPORT_BYTES) {
    truncated = true;
    agents = withTasksCut(agents, SHORT_TASK_BYTES);
    const rest = () => MAX_REPORT_BYTES - sizeOf({ agents: [], metrics: report.metrics, repos: [] });
    if (total() > MAX_REPORT_BYTES) {
      // Repos keep up to a quarter, agents (what GET /state shows) the rest.
      repos = headThatFits(repos, MAX_REPORT_BYTES / 4);
      agents = headThatFits(agents, rest() - sizeOf(repos));
    }
  }
  return { agents, metrics: report.metrics, repos, truncated };
}
