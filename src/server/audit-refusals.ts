import type { AuditLog, RefusalRecord } from "./audit-log.js";

export interface RefusalCounterOptions {
  log: AuditLog;
  /** Window per line (default one minute). */
  windowMs?: number;
  now?: () => number;
}

/** Addresses counted apart per window; the rest share one `"other"` line, so memory is bounded. */
const MAX_ADDRESSES = 10_000;
/** Distinct routes and unknown-token fingerprints kept per line. */
const MAX_SAMPLES = 5;

interface Tally {
  count: number;
  first: number;
  last: number;
  statuses: Record<string, number>;
  actions: string[];
  actors: string[];
}

function sample(list: string[], value: string): void {
  if (list.length < MAX_SAMPLES && !list.includes(value)) list.push(value);
}

/**
 * Requests that never authenticated (no token, a wrong one, refused before authentication) are
 * counted per address and written as one line per address per window with `count`, not one line
 * each: a flood costs a line a minute per address instead of a line per request.
 */
export function createRefusalCounter(options: RefusalCounterOptions) {
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  let windowStart = now();
  let tallies = new Map<string, Tally>();

  function flush(): void {
    const start = new Date(windowStart).toISOString();
    for (const [address, t] of tallies) {
      const line: RefusalRecord = {
        time: start,
        address,
        outcome: "refused",
        count: t.count,
        first: new Date(t.first).toISOString(),
        last: new Date(t.last).toISOString(),
        statuses: t.statuses,
        actions: t.actions,
        actors: t.actors,
      };
      options.log.write(line);
    }
    tallies = new Map();
    windowStart = now();
  }

  const timer = setInterval(flush, windowMs);
  timer.unref();

  return {
    /** Counts one refused request; `address`, `action` and `actor` are already bounded. */
    count(address: string, status: number, action: string, actor: string): void {
      const key = tallies.has(address) || tallies.size < MAX_ADDRESSES ? address : "other";
      const t = tallies.get(key) ?? { count: 0, first: now(), last: 0, statuses: {}, actions: [], actors: [] };
      tallies.set(key, t);
      t.count++;
      t.last = now();
      t.statuses[status] = (t.statuses[status] ?? 0) + 1;
      sample(t.actions, action);
      sample(t.actors, actor);
    },
    /** Writes what was counted so far and stops the timer (shutdown). */
    close(): void {
      clearInterval(timer);
      flush();
    },
  };
}

export type RefusalCounter = ReturnType<typeof createRefusalCounter>;
