import { existsSync } from "node:fs";
import { join } from "node:path";
import type { McState } from "./multiclaude-state.js";
import { activePrs } from "./multiclaude-state.js";
import { resolveExecutable, runCommand } from "./worker-runner.js";

export interface OpenPrCounterOptions {
  multiclaudeHome: string;
  env: NodeJS.ProcessEnv;
  /** How long a count is good for (default 5 min: gh talks to GitHub). */
  refreshMs?: number;
  now?: () => number;
}

/**
 * Open PRs per local repo for the heartbeat's `active_prs`. multiclaude's history records no PR
 * state (`unknown` after every finish), so with gh on PATH the agent asks GitHub, in the repo's
 * clone, which PRs are open and counts those whose head branch is one of this node's workers'
 * (so two nodes never count one PR twice); a count is refreshed in the background at most every
 * `refreshMs`. Without gh, the history's own `open` entries are counted (none, for the
 * multiclaude we recorded).
 */
export function createOpenPrCounter(o: OpenPrCounterOptions) {
  const refreshMs = o.refreshMs ?? 300_000;
  const now = o.now ?? Date.now;
  /** `entries`: the history's length when counted (a name, and so a branch, can come back once its worktree is gone). */
  const counts = new Map<string, { count: number; at: number; entries: number }>();
  let running = false;

  async function countOne(localRepo: string, branches: Set<string>): Promise<number | undefined> {
    const clone = join(o.multiclaudeHome, "repos", localRepo);
    if (!existsSync(clone)) return undefined;
    const r = await runCommand(["gh", "pr", "list", "--state", "open", "--json", "number,headRefName", "--limit", "1000"], { env: o.env, cwd: clone, timeoutMs: 30_000 });
    if (r.code !== 0) return undefined;
    try {
      const list = JSON.parse(r.stdout) as { headRefName?: unknown }[];
      return Array.isArray(list) ? list.filter((p) => typeof p?.headRefName === "string" && branches.has(p.headRefName)).length : undefined;
    } catch {
      return undefined;
    }
  }

  async function refresh(state: McState): Promise<void> {
    running = true;
    try {
      for (const [localRepo, repo] of Object.entries(state.repos)) {
        const history = Array.isArray(repo?.task_history) ? repo.task_history : [];
        const branches = new Set(history.map((e) => e?.branch).filter((b): b is string => typeof b === "string"));
        const seen = counts.get(localRepo);
        // Stale after refreshMs, or at once when a worker finished (its branch may have a new PR,
        // even when an earlier worker of the same name had one).
        if (seen && seen.entries === history.length && now() - seen.at < refreshMs) continue;
        const count = branches.size === 0 ? 0 : await countOne(localRepo, branches);
        if (count !== undefined) counts.set(localRepo, { count, at: now(), entries: history.length });
      }
    } finally {
      running = false;
    }
  }

  return {
    /** Open PRs of the repo: gh's last count, else what the history says. Starts a refresh when one is due. */
    count(localRepo: string, state: McState): number {
      if (!running && resolveExecutable("gh", o.env)) void refresh(state);
      return counts.get(localRepo)?.count ?? activePrs(state.repos[localRepo] ?? {});
    },
  };
}

export type OpenPrCounter = ReturnType<typeof createOpenPrCounter>;
