import type { AgentSummary, RepoReport } from "../core/types.js";
import { activePrs, agentStatus, isPidAlive, type McState, type PidCheck } from "./multiclaude-state.js";
import type { RepoMap } from "./repo-map.js";

/** What the heartbeat needs to know about a task this node holds. */
export interface HeldSummary {
  taskId: string;
  localRepo: string;
  worker?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_AGENTS = 256;

function validName(s: unknown): s is string {
  return typeof s === "string" && s.length <= 128 && NAME.test(s);
}

/** Free text as the API takes it: no control characters but tab and newlines, bounded length. */
export function apiText(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, "");
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}

function shortText(text: string | undefined | null, max: number, fallback = "unknown"): string {
  const t = apiText(text ?? "", max).trim();
  return t || fallback;
}

/**
 * The heartbeat's `agents`: every agent state.json lists (status derived from its pid and
 * `ready_for_cleanup`, repo in the coordinator's naming, `task_id` when it runs a task we hold).
 * A task whose worker is still starting is not an agent yet (the claim and `current_workers`
 * tell the coordinator about it). Entries the API would refuse (odd names) are left out rather
 * than failing the whole heartbeat.
 */
export function reportAgents(state: McState, held: readonly HeldSummary[], repos: RepoMap, alive: PidCheck = isPidAlive): AgentSummary[] {
  const agents: AgentSummary[] = [];
  const byWorker = new Map(held.filter((h) => h.worker).map((h) => [`${h.localRepo}\u0000${h.worker}`, h]));
  for (const [localRepo, repo] of Object.entries(state.repos)) {
    const coordRepo = repos.toCoord(localRepo);
    for (const [name, agent] of Object.entries(repo?.agents ?? {})) {
      if (!validName(name) || !agent || typeof agent !== "object") continue;
      const mine = byWorker.get(`${localRepo}\u0000${name}`);
      agents.push({
        name,
        type: shortText(agent.type, 64, "worker"),
        status: agentStatus(agent, alive),
        task: typeof agent.task === "string" ? apiText(agent.task, 4096) : null,
        repo: validName(coordRepo) ? coordRepo : null,
        task_id: mine?.taskId ?? null,
      });
    }
  }
  return agents.slice(0, MAX_AGENTS);
}

/** The heartbeat's `repos`: open PRs per repo (`openPrs`, default: from its task history; see open-prs.ts). */
export function reportRepos(state: McState, repos: RepoMap, openPrs: (localRepo: string) => number = (r) => activePrs(state.repos[r] ?? {})): RepoReport[] {
  const out: RepoReport[] = [];
  for (const [localRepo, repo] of Object.entries(state.repos)) {
    const name = repos.toCoord(localRepo);
    if (validName(name) && repo && typeof repo === "object") out.push({ name, active_prs: openPrs(localRepo) });
  }
  return out.slice(0, MAX_AGENTS);
}
