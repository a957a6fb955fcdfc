import { Argument, type Command } from "commander";
import type { Client } from "../../client/client.js";
import { EVENT_TYPES } from "../../core/types.js";
import { DYNAMIC_KINDS, type DynamicKind } from "../completion/spec.js";
import { registrationKey } from "../context.js";
import type { Runner } from "../runner.js";

/** Completion must feel instant: one try, and a coordinator slower than this offers nothing. */
const TIMEOUT_MS = 1500;
const PAGE = 200;

/** Event types and the globs `events --type` takes: no need to ask the coordinator. */
const EVENT_WORDS = [...EVENT_TYPES, "node.*", "agent.*", "task.*", "message.*"];

/** The values of one kind from the coordinator, newest first where that means anything. */
async function values(kind: Exclude<DynamicKind, "event-types">, client: Client, ownNode: string | undefined): Promise<string[]> {
  switch (kind) {
    case "tasks":
      return (await client.listTasks({ limit: PAGE })).tasks.map((t) => t.id);
    case "pending-tasks": {
      const [pending, orphaned] = await Promise.all([client.listTasks({ status: "pending", limit: PAGE }), client.listTasks({ status: "orphaned", limit: PAGE })]);
      return [...pending.tasks, ...orphaned.tasks].map((t) => t.id);
    }
    case "claimed-tasks": {
      // Only the claimant may finish a task: offer this machine's claims when it is registered.
      const claimed = (await client.listTasks({ status: "claimed", limit: PAGE })).tasks;
      return claimed.filter((t) => ownNode === undefined || t.claimed_node === ownNode).map((t) => t.id);
    }
    case "nodes":
      return (await client.listNodesPage({ limit: 1000 })).nodes.map((n) => n.id);
    case "repos": {
      const [tasks, nodes] = await Promise.all([client.listTasks({ limit: 500 }), client.listNodesPage({ limit: 1000 })]);
      return [...new Set([...tasks.tasks.map((t) => t.repo), ...nodes.nodes.flatMap((n) => n.repos.map((r) => r.name))])].sort();
    }
    case "messages":
      return (await client.listMessagesPage({ status: "pending", limit: PAGE })).messages.map((m) => m.id);
  }
}

/**
 * `__complete KIND` (hidden): the shell completion scripts call it for ids, repos and event
 * types. It prints one value a line and exits 0, and on any failure (no coordinator, bad token,
 * slow answer) prints nothing: completion falls back to the static words, silently.
 */
export function registerComplete(program: Command, run: Runner): void {
  program
    .command("__complete", { hidden: true })
    .description("List values for shell completion (used by the completion scripts)")
    .addArgument(new Argument("<kind>").choices(DYNAMIC_KINDS))
    .action(
      run<Record<string, never>, [DynamicKind]>(async (ctx, _opts, kind) => {
        try {
          let list = EVENT_WORDS;
          if (kind !== "event-types") {
            const client = await ctx.client({ timeoutMs: TIMEOUT_MS, retries: 0 });
            list = await values(kind, client, ctx.registrations.get(registrationKey(client.url))?.node_id);
          }
          for (const v of list) ctx.out.plain(v);
        } catch {
          // silent: see above
        }
        return 0;
      }),
    );
}
