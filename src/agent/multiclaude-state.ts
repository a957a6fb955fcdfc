import { readFileSync } from "node:fs";
import { join } from "node:path";

/** An agent as multiclaude's state.json lists it (fields we read; others are ignored). */
export interface McAgent {
  type?: string;
  pid?: number;
  task?: string;
  summary?: string;
  failure_reason?: string;
  created_at?: string;
  ready_for_cleanup?: boolean;
  [key: string]: unknown;
}

/** One finished worker in a repo's task history. */
export interface McHistoryEntry {
  name?: string;
  task?: string;
  branch?: string;
  pr_url?: string;
  pr_number?: number;
  /** open, merged, closed, no-pr, failed or unknown. */
  status?: string;
  summary?: string;
  failure_reason?: string;
  created_at?: string;
  completed_at?: string;
}

export interface McRepo {
  github_url?: string;
  agents?: Record<string, McAgent>;
  task_history?: McHistoryEntry[];
}

/** `~/.multiclaude/state.json`: written atomically by multiclaude, read-only for us. */
export interface McState {
  repos: Record<string, McRepo>;
  current_repo?: string;
}

export function statePath(home: string): string {
  return join(home, "state.json");
}

/**
 * Reads state.json. A missing file is an empty state (multiclaude has not run yet); a file
 * that does not parse gives undefined, and callers keep what they read last (multiclaude writes
 * atomically, so this is a transient oddity, never a reason to act on workers).
 */
export function readState(home: string): McState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(home), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { repos: {} };
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<McState> | null;
    if (!parsed || typeof parsed !== "object") return undefined;
    const repos = parsed.repos && typeof parsed.repos === "object" ? parsed.repos : {};
    return { repos, current_repo: typeof parsed.current_repo === "string" ? parsed.current_repo : undefined };
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this pid runs (EPERM: it exists but belongs to someone else). A zombie
 * (exited, not yet reaped: in a container whose init does not reap) does not run.
 */
export function isPidAlive(pid: number | undefined): boolean | undefined {
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // /proc/PID/stat: "PID (comm) STATE ..."; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (macOS): the signal check is all there is
  }
}

export type PidCheck = (pid: number | undefined) => boolean | undefined;

/**
 * The status we report for an agent: `done` once it asked to be cleaned up, `running` while its
 * process lives, `exited` when it is gone, `unknown` without a pid.
 */
export function agentStatus(agent: McAgent, alive: PidCheck = isPidAlive): "running" | "done" | "exited" | "unknown" {
  if (agent.ready_for_cleanup === true) return "done";
  const a = alive(agent.pid);
  if (a === undefined) return "unknown";
  return a ? "running" : "exited";
}

/**
 * PRs of a repo's workers that are still open, as far as state.json tells. The multiclaude we
 * recorded never writes a PR status into its history (`unknown` after every normal finish), so
 * this counts only entries of a multiclaude that does (`open`); see docs/agent.md.
 */
export function activePrs(repo: McRepo): number {
  return (repo.task_history ?? []).filter((e) => e?.status === "open").length;
}

/**
 * The latest history entry of `worker` created at or after `sinceMs` (minus a minute of
 * slack) and, when `texts` are given, recording one of them as its task. Names are reused as
 * soon as the earlier worktree is gone, seconds later on a busy node, so an entry with the same
 * name but another task is an earlier worker's, however recent. An entry without a readable
 * `created_at` or `task` counts.
 */
export function findHistoryEntry(repo: McRepo | undefined, worker: string, sinceMs: number, texts?: readonly string[]): McHistoryEntry | undefined {
  const history = repo?.task_history ?? [];
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (!e || e.name !== worker) continue;
    if (texts && typeof e.task === "string" && !texts.includes(e.task)) continue;
    const created = e.created_at ? Date.parse(e.created_at) : NaN;
    if (Number.isNaN(created) || created >= sinceMs - 60_000) return e;
  }
  return undefined;
}

/** The summary a completed task gets when its worker left none (its window died; multiclaude cleaned it up). */
export const NO_SUMMARY = "worker ended without a summary";

/** What became of a worker we started. */
export type WorkerOutcome =
  | { kind: "running"; alive: boolean | undefined }
  /** `pr` only when multiclaude recorded one (the recorded versions never do; the agent asks gh). */
  | { kind: "completed"; summary: string; branch?: string; pr?: string; status: string }
  | { kind: "failed"; reason: string }
  /** Left state.json without a history entry (removed with `worker rm`, by us or by hand). */
  | { kind: "vanished" };

function prOf(e: McHistoryEntry): string | undefined {
  if (typeof e.pr_url === "string" && e.pr_url) return e.pr_url;
  if (typeof e.pr_number === "number" && e.pr_number > 0) return `#${e.pr_number}`;
  return undefined;
}

/**
 * Decides from one state.json snapshot what became of worker `worker` of `repo` (DESIGN §15),
 * started at `sinceMs` for a task passed on as one of `texts` (see findHistoryEntry).
 * While it is in `agents` it works. Once it left, its history entry tells: `failed` has failed
 * (reason from `failure_reason`); any other status (multiclaude writes `unknown` after a normal
 * finish, with or without a summary) has succeeded. multiclaude removes the agent and appends the
 * entry in one atomic write, so a worker gone without an entry was removed, not finished.
 */
export function workerOutcome(state: McState, repo: string, worker: string, sinceMs: number, alive: PidCheck = isPidAlive, texts?: readonly string[]): WorkerOutcome {
  const r = state.repos[repo];
  const agent = r?.agents?.[worker];
  if (agent) return { kind: "running", alive: alive(agent.pid) };
  const entry = findHistoryEntry(r, worker, sinceMs, texts);
  if (!entry) return { kind: "vanished" };
  const status = typeof entry.status === "string" ? entry.status : "unknown";
  if (status === "failed") return { kind: "failed", reason: entry.failure_reason || `worker ${worker} failed` };
  const branch = typeof entry.branch === "string" && entry.branch ? entry.branch : undefined;
  return { kind: "completed", summary: entry.summary || NO_SUMMARY, branch, pr: prOf(entry), status };
}
