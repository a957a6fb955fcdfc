import type { Command } from "commander";
import type { RepoState } from "../../core/types.js";
import { status } from "../output/format.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

/** `state REPO`: what the nodes report about one repo (agents, PRs) and its pending tasks. */
export function registerState(program: Command, run: Runner): void {
  program
    .command("state")
    .description("Show a repo's agents (from heartbeats), pending tasks and active PRs (summed over nodes)")
    .argument("<repo>", "the repo's name")
    .addHelpText("after", examples("state web", "state web -o json | jq .active_prs"))
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, repo) => {
        const client = await ctx.client();
        const state = await client.getState(repo);
        // Still exit 0: an unknown repo is an answer (nothing runs there), but likely a typo.
        if (!state.known) ctx.out.warn(`no node reports repo ${repo} and no task names it; check the name`);
        ctx.out.result(state, (s: RepoState) => {
          ctx.out.fields([
            ["repo", s.repo],
            ["pending tasks", s.pending_tasks],
            ["active PRs", s.active_prs],
            ["agents", Object.keys(s.agents).length],
          ]);
          const agents = Object.entries(s.agents);
          if (!agents.length) return;
          ctx.out.line();
          ctx.out.table(
            ["AGENT", "TYPE", "STATUS", { title: "TASK", flex: true }],
            agents.map(([key, a]) => [key, a.type, status(ctx.out.c, a.status), a.task ?? "-"]),
          );
        });
      }),
    );
}
