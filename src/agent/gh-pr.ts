import { existsSync } from "node:fs";
import { join } from "node:path";
import { resolveExecutable, runCommand } from "./worker-runner.js";

/** A pull request as `gh pr list --json url,number,state` prints it. */
export interface GhPr {
  url: string;
  number: number;
  state: string;
}

export interface PrLookupOptions {
  /** multiclaude's home; gh runs in the repo's clone (`repos/<repo>`) so it knows the GitHub repo. */
  multiclaudeHome: string;
  localRepo: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export type PrLookup =
  | { found: GhPr }
  /** gh answered: no PR has this head branch. */
  | { none: true }
  /** No answer to be had: gh is not installed, not authenticated, offline, or printed something else. */
  | { unavailable: string };

/** Open first, then merged, then anything (closed). */
const RANK: Record<string, number> = { OPEN: 0, MERGED: 1 };

/**
 * Looks up the PR of a worker's branch with `gh pr list --head BRANCH --state all --json
 * url,number,state`. multiclaude's history names the branch but never a PR, so this is the only
 * way to learn it; without gh (or its login) the task is completed with the branch alone.
 */
export async function findPr(branch: string, o: PrLookupOptions): Promise<PrLookup> {
  if (!resolveExecutable("gh", o.env)) return { unavailable: "gh is not on PATH" };
  const clone = join(o.multiclaudeHome, "repos", o.localRepo);
  const argv = ["gh", "pr", "list", "--head", branch, "--state", "all", "--json", "url,number,state", "--limit", "20"];
  const r = await runCommand(argv, { env: o.env, cwd: existsSync(clone) ? clone : undefined, timeoutMs: o.timeoutMs ?? 20_000 });
  if (r.code !== 0) return { unavailable: (r.error ?? r.stderr.trim().split("\n")[0]) || `gh exited with code ${r.code}` };
  let list: unknown;
  try {
    list = JSON.parse(r.stdout);
  } catch {
    return { unavailable: "gh printed no JSON" };
  }
  if (!Array.isArray(list)) return { unavailable: "gh printed no list" };
  const prs = list.filter(
    (p): p is GhPr => !!p && typeof p === "object" && typeof p.url === "string" && typeof p.number === "number" && typeof p.state === "string",
  );
  if (prs.length === 0) return { none: true };
  prs.sort((a, b) => (RANK[a.state] ?? 2) - (RANK[b.state] ?? 2) || b.number - a.number);
  return { found: prs[0]! };
}
