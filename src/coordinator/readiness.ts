import { setTimeout as sleep } from "node:timers/promises";
import { CoordError } from "../core/errors.js";
import { storeFault } from "../store/faults.js";
import type { Store } from "../store/types.js";

/** How long the readiness probe's read may take before the store counts as not answering. */
export const READY_READ_TIMEOUT_MS = 2000;
/** After a write failed with a store fault (full disk, read-only database), not ready for this long. */
export const READY_FAULT_WINDOW_MS = 10_000;

export interface Readiness {
  /** The store as the coordinator uses it: the same, with its failed writes noted. */
  store: Store;
  /** Resolves when the store answers; throws UNAVAILABLE when it does not, or failed a write lately. */
  check(): Promise<{ status: "ready"; store: Store["backend"] }>;
}

/**
 * Readiness of the store, for `GET /ready`: a read must answer within 2 s, and no write may have
 * failed with a store fault in the last 10 s (a full disk still reads fine). Liveness is
 * `GET /health`, which never touches the store.
 */
export function createReadiness(inner: Store, now: () => number = Date.now): Readiness {
  let lastFault: { at: number; error: CoordError } | undefined;
  /** A write's store fault (full disk, read-only database) is noted; a success clears it. */
  async function noted<T>(run: Promise<T>): Promise<T> {
    try {
      const result = await run;
      lastFault = undefined;
      return result;
    } catch (err) {
      const fault = storeFault(err);
      // A shutdown refusal is no fault of the store.
      if (fault && fault.details.store_error !== undefined) lastFault = { at: now(), error: fault };
      throw err;
    }
  }
  const claimNext = inner.claimNext;
  const store: Store = {
    ...inner,
    transact: (fn) => noted(inner.transact(fn)),
    ...(claimNext ? { claimNext: (request) => noted(claimNext(request)) } : {}),
  };
  return {
    store,
    async check() {
      const read = inner.eventBounds().then(
        () => undefined,
        (err: unknown) => storeFault(err) ?? new CoordError("UNAVAILABLE", `store unavailable: ${(err as Error).message}`, { retry_safe: true }),
      );
      const ac = new AbortController();
      const slow = sleep(READY_READ_TIMEOUT_MS, "slow" as const, { signal: ac.signal }).catch(() => undefined);
      const outcome = await Promise.race([read, slow]);
      ac.abort();
      if (outcome === "slow") {
        throw new CoordError("UNAVAILABLE", `store unavailable: it did not answer within ${READY_READ_TIMEOUT_MS} ms`, { retry_safe: true });
      }
      if (outcome) throw outcome;
      if (lastFault && now() - lastFault.at < READY_FAULT_WINDOW_MS) {
        throw new CoordError("UNAVAILABLE", `${lastFault.error.message} (a write failed ${Math.round((now() - lastFault.at) / 1000)} s ago)`, {
          ...lastFault.error.details,
          retry_safe: true,
        });
      }
      return { status: "ready" as const, store: inner.backend };
    },
  };
}
