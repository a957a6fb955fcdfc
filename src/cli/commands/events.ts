import type { Command } from "commander";
import type { Client } from "../../client/client.js";
import type { StreamEvent } from "../../client/types.js";
import type { Output } from "../output/output.js";
import { collect, intArg, SERVER_LIMITS, splitList } from "../parse.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

interface EventsOptions {
  since?: number;
  type: string[];
  repo?: string;
  follow: boolean;
  limit?: number;
}

function summary(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([k, v]) => k !== "ts" && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(" ");
}

/**
 * An id past the log's end: mistyped, or the coordinator restarted with a new log (memory://).
 * Nothing tells the two apart, so the message names both instead of claiming a restart.
 */
function beyondLog(id: number, last?: number): string {
  return `#${id} is past the coordinator's last event${last === undefined ? "" : ` (#${last})`}: a mistyped id, or the coordinator restarted with a new log`;
}

/** One event: a JSON line with --json, else `#id time type key=value...`. */
function printEvent(out: Output, e: StreamEvent): void {
  if (out.json) return out.data(e, false);
  if (e.type === "stream.reset") {
    const { oldest_id, requested_id } = e.data;
    if (requested_id !== undefined && requested_id >= oldest_id) {
      out.warn(`${beyondLog(requested_id)}; replaying from #${oldest_id}`);
    } else out.warn(`events before #${oldest_id} are no longer kept; continuing from there`);
    return;
  }
  const ts = typeof e.data.ts === "string" ? e.data.ts.slice(11, 19) : "";
  const type = e.type.endsWith("failed") || e.type.endsWith("offline") || e.type.endsWith("orphaned") ? out.c.red(e.type) : out.c.cyan(e.type);
  out.line(`${out.c.dim(`#${e.id}`)} ${out.c.dim(ts)} ${type} ${summary(e.data)}`);
}

/** What the server gives per `GET /events`. */
const SERVER_PAGE = SERVER_LIMITS.pageSize;
/** `--no-follow` without `--limit`. */
const DEFAULT_PAST = 1000;
/** The largest `--limit`: the default retention of the log (DESIGN section 4). */
const MAX_PAST = 10_000;

/**
 * Prints up to `limit` past events after `since`, page by page (the server gives at most 1000 a
 * request), as they arrive. When `since` is not in the log, says so on stderr; an id newer than
 * the log (the coordinator restarted with a new one) continues from its oldest event, as the
 * stream does. Returns how many were printed.
 */
async function printPast(client: Client, out: Output, query: { since: number; limit: number; types: string[]; repo?: string }): Promise<number> {
  let since = query.since;
  let printed = 0;
  for (let first = true; printed < query.limit; first = false) {
    const want = Math.min(SERVER_PAGE, query.limit - printed);
    const page = await client.readEvents({ since, limit: want, types: query.types.length ? query.types : undefined, repo: query.repo });
    if (first && page.reset) {
      if (since > page.last_event_id) {
        out.warn(`${beyondLog(since, page.last_event_id)}; printing from #${page.oldest_id}`);
        since = 0;
        continue;
      }
      out.warn(`events before #${page.oldest_id} are no longer kept; printing from there`);
    }
    for (const e of page.events) {
      if (out.json) out.data(e, false);
      else printEvent(out, e);
    }
    printed += page.events.length;
    // The server looks at a bounded number of events per read, so a filtered page can be short
    // before the end: go on from `next` until it reaches the end of the log.
    const next = page.next ?? page.events.at(-1)?.id ?? since;
    if (next >= page.last_event_id || (page.next === undefined && page.events.length < want) || next <= since) break;
    since = next;
  }
  return printed;
}

/** `events`: follows the SSE stream until Ctrl-C, reconnecting and resuming without gaps. */
export function registerEvents(program: Command, run: Runner): void {
  program
    .command("events")
    .description("Follow the event stream (until Ctrl-C), or print past events with --no-follow")
    .option("--since <id>", "start after this event id (0 = from the oldest kept)", intArg(0))
    .option("--type <glob>", "only these event types, e.g. task.* or node.offline (repeatable, or comma-separated)", collect, [])
    .option("--repo <repo>", "only events about this repo")
    .option("--no-follow", "print the events after --since and exit")
    .option("--limit <n>", `stop after this many events (with --no-follow: default ${DEFAULT_PAST}, fetched ${SERVER_PAGE} a request)`, intArg(1, MAX_PAST))
    .addHelpText("after", examples("events --type 'task.*' --type node.offline", "events --since 0 --no-follow --limit 50", "events --json --limit 1   # wait for the next event, print it, exit"))
    .action(
      run<EventsOptions>(async (ctx, opts) => {
        const client = await ctx.client();
        const types = splitList(opts.type);
        if (!opts.follow) {
          const printed = await printPast(client, ctx.out, { since: opts.since ?? 0, limit: opts.limit ?? DEFAULT_PAST, types, repo: opts.repo });
          if (printed === 0 && !ctx.out.json) ctx.out.info("no events");
          return;
        }
        // Ctrl-C, or `--limit` events printed (leaving the loop closes the stream), ends it.
        const signal = ctx.interruptSignal();
        const stream = client.streamEvents({
          since: opts.since,
          types: types.length ? types : undefined,
          repo: opts.repo,
          signal,
          onDisconnect: ({ retryInMs, lastEventId }) =>
            ctx.out.info(`connection lost; reconnecting in ${Math.round(retryInMs / 100) / 10}s (resuming after #${lastEventId ?? 0})`),
          // On stderr, so --json stdout stays clean; scripts may wait for it before acting.
          onConnect: ({ reconnect }) => ctx.out.info(reconnect ? "reconnected" : `following events from ${client.url} (Ctrl-C to stop)`),
        });
        let printed = 0;
        for await (const event of stream) {
          printEvent(ctx.out, event);
          if (event.id !== null && opts.limit !== undefined && ++printed >= opts.limit) break;
        }
      }),
    );
}
