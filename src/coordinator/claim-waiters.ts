import { endsKeyedClaim } from "../core/concurrency.js";
import { labelSignature } from "../core/labels.js";
import type { CoordEvent, Labels, Task } from "../core/types.js";

/**
 * What an attempt returns when tasks fit its (labels, repos) but none is for this waiter (one
 * its node gave back lately, a lost race): later waiters with the same key are still tried.
 */
export const NOT_FOR_THIS_WAITER = Symbol("not for this waiter");

type AttemptResult = Task | null | typeof NOT_FOR_THIS_WAITER;

interface Waiter {
  key: string;
  attempt: () => Promise<AttemptResult>;
  settle: (result: Task | null | Error) => void;
  /** An attempt is running; a timeout or abort waits for it so no claim is lost. */
  inFlight: boolean;
  /** Past its deadline or its client left: finish after the running attempt. */
  ending: boolean;
  /** The client went away: a task claimed for it must be handed back. */
  abandoned: boolean;
  /** Not tried since it started waiting: a task may have appeared before it was registered. */
  fresh: boolean;
  onAbandonedClaim?: (task: Task) => void;
}

/** Events after which a task may be claimable (one that ended a claim of a concurrency key included). */
export function makesTaskClaimable(event: CoordEvent): boolean {
  return (
    endsKeyedClaim(event) ||
    event.type === "task.created" ||
    event.type === "task.released" ||
    event.type === "task.orphaned" ||
    event.type === "task.retried" ||
    event.type === "task.ready" ||
    (event.type === "task.failed" && event.data.status === "pending")
  );
}

export interface WaitOptions {
  labels: Labels;
  /** The repos the waiter takes tasks of (undefined: every repo). */
  repos?: readonly string[];
  waitMs: number;
  signal?: AbortSignal;
  /**
   * Whether to try once when the wait begins (default true): a task may have appeared since
   * the caller's own try. False when the caller knows nothing became claimable since.
   */
  fresh?: boolean;
  attempt: () => Promise<AttemptResult>;
  onAbandonedClaim?: (task: Task) => void;
}

/**
 * Long-polled `POST /tasks/claim` requests. Nobody polls: when a task becomes claimable the
 * waiters are tried in arrival order, one at a time, so N idle nodes do not all race for one
 * task. A pass stops once it has handed out as many tasks as became claimable (new waiters are
 * always tried once), and once a claim finds nothing for some (labels, repos), later waiters
 * with the same (labels, repos) are skipped (unless it returned NOT_FOR_THIS_WAITER). `attempt` should look before it takes a
 * transaction, so a waiter nothing fits costs one read.
 */
export function createClaimWaiters() {
  const waiters = new Set<Waiter>();
  let running = false;
  let again = false;
  let closed = false;
  /** Tasks that became claimable and were not handed out yet (other replicas' included). */
  let budget = 0;

  function finish(w: Waiter, result: Task | null | Error): void {
    waiters.delete(w);
    if (result && !(result instanceof Error) && w.abandoned) {
      w.onAbandonedClaim?.(result);
      result = null;
    }
    w.settle(result);
  }

  async function pass(): Promise<void> {
    const exhausted = new Set<string>();
    // This pass hands out what became claimable before it; what becomes claimable during it
    // is the next pass's (an attempt here may not have seen it). What is left at the end fitted
    // nobody tried: carried over, it would make the next pass try waiters for nothing.
    let left = budget;
    budget = 0;
    for (const w of [...waiters]) {
      if (!waiters.has(w) || w.ending || exhausted.has(w.key)) continue;
      if (!w.fresh && left <= 0) continue;
      const counted = !w.fresh;
      w.fresh = false;
      w.inFlight = true;
      let result: AttemptResult | Error;
      try {
        result = await w.attempt();
      } catch (err) {
        result = err instanceof Error ? err : new Error(String(err));
      }
      w.inFlight = false;
      if (result === NOT_FOR_THIS_WAITER) {
        if (w.ending) finish(w, null);
        continue;
      }
      if (result && !(result instanceof Error) && counted) left--;
      if (result || w.ending) finish(w, result);
      else exhausted.add(w.key);
    }
  }

  async function dispatch(): Promise<void> {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await pass();
      } while (again);
    } finally {
      running = false;
    }
  }

  return {
    get size(): number {
      return waiters.size;
    },

    /** `count` tasks became claimable: wakes waiters (passes coalesce). */
    wake(count = 1): void {
      budget += count;
      void dispatch();
    },

    /** Waits up to `waitMs` for `attempt` to return a task. Resolves null on timeout, abort or shutdown. */
    wait(opts: WaitOptions): Promise<Task | null> {
      return new Promise((resolve, reject) => {
        if (closed || opts.signal?.aborted) return resolve(null);
        const end = (abandoned: boolean) => {
          if (!waiters.has(w)) return;
          w.abandoned ||= abandoned;
          w.ending = true;
          if (!w.inFlight) finish(w, null);
        };
        const onAbort = () => end(true);
        const w: Waiter = {
          key: `${opts.repos ? [...opts.repos].sort().join(",") : "\u0000"}\u0000${labelSignature(opts.labels)}`,
          attempt: opts.attempt,
          settle: (result) => {
            clearTimeout(timer);
            opts.signal?.removeEventListener("abort", onAbort);
            if (result instanceof Error) reject(result);
            else resolve(result);
          },
          inFlight: false,
          ending: false,
          abandoned: false,
          fresh: opts.fresh ?? true,
          onAbandonedClaim: opts.onAbandonedClaim,
        };
        waiters.add(w);
        const timer = setTimeout(() => end(false), opts.waitMs);
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        // A task may have appeared between the caller's first try and now.
        if (w.fresh) void dispatch();
      });
    },

    /** Ends every wait with null (shutdown), and every later one at once; running attempts finish first. */
    closeAll(): void {
      closed = true;
      for (const w of [...waiters]) {
        w.ending = true;
        if (!w.inFlight) finish(w, null);
      }
    },
  };
}
