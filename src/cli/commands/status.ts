import type { Command } from "commander";
import type { ServerStatus } from "../../client/types.js";
import { duration } from "../output/format.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

function counts(c: Record<string, number>): string {
  const parts = Object.entries(c)
    .filter(([k, v]) => k !== "total" && v > 0)
    .map(([k, v]) => `${v} ${k}`);
  return `${c.total ?? 0}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

/** `status`: is the coordinator up, what runs it, how busy it is. */
export function registerStatus(program: Command, run: Runner): void {
  program
    .command("status")
    .description("Show the coordinator's version, uptime, store and node/task counts")
    .addHelpText("after", examples("status", "status --url https://coord.example.com:7331 --json"))
    .action(
      run<Record<string, never>>(async (ctx) => {
        const client = await ctx.client();
        const status = await client.status();
        ctx.out.result(status, (s: ServerStatus) => {
          ctx.out.fields([
            ["coordinator", client.url],
            ["version", s.version],
            ["uptime", duration(s.uptime_seconds)],
            ["store", s.store],
            ["nodes", counts(s.nodes)],
            ["tasks", counts(s.tasks)],
            ["last event", s.last_event_id],
          ]);
        });
      }),
    );
}
