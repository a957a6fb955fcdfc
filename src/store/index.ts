import { homedir } from "node:os";
import { join } from "node:path";
import { CoordError } from "../core/errors.js";
import { createMemoryStore } from "./memory.js";
import { redactUrl } from "./redact-url.js";
import { parseRedisUrl } from "./redis-url.js";
import type { Store, StoreOptions } from "./types.js";

export type { Store, StoreOptions, StoreTx } from "./types.js";

const USAGE = "use memory://, sqlite://PATH (sqlite:///abs/path), redis://HOST:PORT/DB or redis+sentinel://HOST:PORT,HOST:PORT/MASTERNAME/DB";

function invalid(url: string, why: string): CoordError {
  return new CoordError("INVALID_REQUEST", `store URL "${redactUrl(url)}": ${why} (${USAGE})`, {
    fields: [{ field: "store", message: why }],
  });
}

/** The file a `sqlite://` URL names: `sqlite:///abs`, `sqlite://rel/to/cwd`, `sqlite://~/in/home`. */
export function sqlitePathOf(url: string): string {
  const rest = decodeURIComponent(url.slice("sqlite://".length));
  if (rest === "" || rest === "/") throw invalid(url, "sqlite:// needs a file path");
  if (rest === "~" || rest.startsWith("~/")) return join(process.env.HOME || homedir(), rest.slice(1));
  return rest;
}

/**
 * Opens the store a URL names: `memory://`, `sqlite://PATH`, `redis://HOST:PORT/DB`
 * (`rediss://` for TLS), `redis+sentinel://HOST:PORT,…/MASTERNAME/DB` (see redis-url.ts). Heavy drivers are imported only when their scheme is used.
 * A URL of any other shape throws `CoordError("INVALID_REQUEST")`.
 */
export async function createStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const at = url.indexOf("://");
  const scheme = at > 0 ? url.slice(0, at).toLowerCase() : "";
  switch (scheme) {
    case "memory":
      if (url.length > "memory://".length) throw invalid(url, "memory:// takes no path");
      return createMemoryStore(options);
    case "sqlite": {
      const { createSqliteStore } = await import("./sqlite.js");
      return createSqliteStore(sqlitePathOf(url), options);
    }
    case "redis":
    case "rediss":
    case "redis+sentinel":
    case "rediss+sentinel": {
      try {
        parseRedisUrl(url);
      } catch (err) {
        throw invalid(url, (err as Error).message);
      }
      const { createRedisStore } = await import("./redis.js");
      return createRedisStore(url, options);
    }
    default:
      throw invalid(url, scheme ? `unsupported scheme "${scheme}://"` : "missing scheme");
  }
}
