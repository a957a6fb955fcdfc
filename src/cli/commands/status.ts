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

/** `12ms`, `2.4s`, `3m`: a latency as a person reads it. */
function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)}ms`;
  return value < 60_000 ? `${(value / 1000).toFixed(1)}s` : duration(Math.round(value / 1000));
}

/** The PRD's success measures: utilisation of the online nodes, create→claim latency of the last hour. */
function successFields(s: ServerStatus): [string, string][] {
  const out: [string, string][] = [];
  if (s.workers) {
    const pct = s.workers.max > 0 ? ` (${Math.round(s.workers.utilisation * 100)}%)` : "";
    out.push(["workers", `${s.workers.busy}/${s.workers.max} busy${pct}`]);
  }
  const l = s.claim_latency;
  if (l) {
    const last = `in the last ${duration(l.window_seconds)}`;
    const claims = `${l.count} claim${l.count === 1 ? "" : "s"} ${last}`;
    out.push(["create→claim", l.p50_ms === null || l.p99_ms === null ? `no claims ${last}` : `p50 ${ms(l.p50_ms)}, p99 ${ms(l.p99_ms)} (${claims})`]);
  }
  return out;
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
            ...successFields(s),
            ["last event", s.last_event_id],
          ]);
        });
      }),
    );
}
