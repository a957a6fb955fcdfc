import type { Command } from "commander";
import type { Output } from "../output/output.js";
import { intArg, SERVER_LIMITS } from "../parse.js";

/** The paging flags of a list command. */
export interface PageOptions {
  limit?: number;
  cursor?: string;
  all: boolean;
}

/** Adds `--limit`, `--cursor` and `--all` to a list command. */
export function pageOptions(command: Command): Command {
  return command
    .option("--limit <n>", "at most this many per page", intArg(1, SERVER_LIMITS.pageSize))
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--all", "follow every page", false);
}

/**
 * One page as the flags ask (`--limit`, `--cursor`), or with `--all` every page from there on,
 * merged into one answer with `next_cursor: null`.
 */
export async function readPages<K extends string, T>(
  key: K,
  opts: PageOptions,
  read: (page: { limit?: number; cursor?: string }) => Promise<Record<K, T[]> & { next_cursor: string | null }>,
): Promise<Record<K, T[]> & { next_cursor: string | null }> {
  let page = await read({ limit: opts.limit, cursor: opts.cursor });
  if (!opts.all) return page;
  const items = [...page[key]];
  while (page.next_cursor) {
    page = await read({ limit: opts.limit, cursor: page.next_cursor });
    items.push(...page[key]);
  }
  return { [key]: items, next_cursor: null } as Record<K, T[]> & { next_cursor: string | null };
}

/**
 * Says how to get the next page, when there is one: a hint, not data, so on stderr (stdout of
 * `tasks --limit 1 > file` holds only the table) and not with --json.
 */
export function printMore(out: Output, nextCursor: string | null): void {
  if (nextCursor && !out.json) out.info(out.c.dim(`more: --cursor ${nextCursor} (or --all)`));
}
