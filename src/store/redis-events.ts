import type { CoordEvent } from "../core/types.js";
import { createEventListeners } from "./event-listeners.js";
import { createMutex } from "./mutex.js";
import type { EventListener } from "./types.js";

export interface EventFeedOptions {
  /** Events with id > afterId from the stored log, oldest first. */
  readLog(afterId: number, limit: number): Promise<CoordEvent[]>;
  /** The last event id given by any replica. */
  lastId(): Promise<number>;
  /** Where failures to read the log go (the next catch-up retries); default: `reportOnce`. */
  onError?(err: unknown): void;
  /**
   * How long a batch that arrives ahead of the next expected id waits for the batches before it
   * to arrive too, before they are read from the log (ms, default GAP_WAIT_MS).
   */
  gapWaitMs?: number;
}

/**
 * A local commit's answer and the pub/sub message of the commit before it come on two
 * connections, in either order, so a batch often arrives just ahead of the one before it
 * (about one task in fifteen in the claim-latency bench). Reading the gap from the log at once
 * cost a Redis round trip on the feed, which every delivery behind it (the next task.created
 * and the waiters it wakes) waited for; the missing batch is nearly always there a moment later.
 */
export const GAP_WAIT_MS = 20;
/** At most this many batches wait for a gap to close; one more reads the gap from the log at once. */
const MAX_EARLY_BATCHES = 1000;

/**
 * An error reporter that writes each distinct message once to stderr: a Redis outage seen by the
 * catch-up timer every second is one line, not one per second.
 */
export function createErrorReporter(log: (line: string) => void = (line) => console.error(line)): (err: unknown) => void {
  const seen = new Set<string>();
  return (err) => {
    const message = err instanceof Error ? err.message : String(err);
    if (seen.has(message)) return;
    if (seen.size >= 100) seen.clear();
    seen.add(message);
    log(`multiclaude-coord: redis event feed: ${message}`);
  };
}

/**
 * A pub/sub message as a batch of events, or undefined when it is not one (then the caller reads
 * the log instead): a JSON array of events with consecutive integer ids.
 */
export function parseEventBatch(message: string): CoordEvent[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const events = value as Partial<CoordEvent>[];
  const first = events[0]?.id;
  if (!Number.isSafeInteger(first) || first! < 1) return undefined;
  const ok = events.every((e, i) => e !== null && typeof e === "object" && e.id === first! + i && typeof e.type === "string");
  return ok ? (events as CoordEvent[]) : undefined;
}

/**
 * Hands every committed event, from every replica, to the listeners in id order, exactly once.
 * Batches come from this replica's own commits and from pub/sub; pub/sub may drop messages
 * (reconnects), so a batch that starts past the next expected id waits up to `gapWaitMs` for
 * the batches before it (then the gap is read from the stored log), and a periodic check that
 * sees the counter ahead reads the log too. Batches already delivered are skipped. Everything
 * runs through one queue, so deliveries never interleave; `ingest` resolves once its batch was
 * delivered (or given up to the log after a failed read, as before).
 */
export function createEventFeed(source: EventFeedOptions) {
  const listeners = createEventListeners();
  const serial = createMutex();
  const onError = source.onError ?? createErrorReporter();
  const gapWaitMs = source.gapWaitMs ?? GAP_WAIT_MS;
  let delivered = 0;
  /** Batches that came ahead of the next expected id, with what resolves their `ingest`. */
  let early: { events: CoordEvent[]; done: () => void }[] = [];
  let gapTimer: ReturnType<typeof setTimeout> | undefined;

  function deliver(events: CoordEvent[]): void {
    const fresh = events.filter((e) => e.id > delivered);
    if (fresh.length === 0) return;
    delivered = fresh[fresh.length - 1]!.id;
    listeners.emit(fresh);
  }

  /** Delivers the stored events up to `upTo` (events trimmed by retention are skipped). */
  async function fill(upTo: number): Promise<void> {
    while (delivered < upTo) {
      const events = await source.readLog(delivered, Math.min(1000, upTo - delivered));
      const part = events.filter((e) => e.id <= upTo);
      if (part.length === 0) {
        delivered = upTo;
        return;
      }
      deliver(part);
    }
  }

  function run(step: () => Promise<void>): Promise<void> {
    return serial(step).catch((err) => onError(err));
  }

  /** Delivers the waiting batches that follow on from what was delivered, in id order. */
  function deliverEarly(): void {
    for (let next = early.find((b) => b.events[0]!.id <= delivered + 1); next; next = early.find((b) => b.events[0]!.id <= delivered + 1)) {
      early = early.filter((b) => b !== next);
      deliver(next.events);
      next.done();
    }
    if (early.length === 0 && gapTimer) {
      clearTimeout(gapTimer);
      gapTimer = undefined;
    }
  }

  /**
   * Reads what is missing before the waiting batches from the log and delivers them. When the
   * read fails they are given up (their `ingest` resolves): the next catch-up reads them from the
   * log, as it would a lost pub/sub message.
   */
  async function fillGap(): Promise<void> {
    if (early.length === 0) return;
    try {
      await fill(Math.min(...early.map((b) => b.events[0]!.id)) - 1);
      deliverEarly();
    } finally {
      const left = early;
      early = [];
      if (gapTimer) clearTimeout(gapTimer);
      gapTimer = undefined;
      for (const b of left) b.done();
    }
  }

  return {
    /** Starts at the current end of the log: listeners get what is committed from now on. */
    start(): Promise<void> {
      return serial(async () => {
        delivered = await source.lastId();
      });
    },

    /** A batch of committed events (ids consecutive), from a local commit or from pub/sub. */
    ingest(events: CoordEvent[]): Promise<void> {
      if (events.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        void run(async () => {
          if (events[events.length - 1]!.id <= delivered) return resolve();
          if (events[0]!.id <= delivered + 1) {
            deliver(events);
            resolve();
            return deliverEarly();
          }
          early.push({ events, done: resolve });
          if (early.length > MAX_EARLY_BATCHES) return fillGap();
          gapTimer ??= setTimeout(() => void run(fillGap), gapWaitMs);
          gapTimer.unref?.();
        }).finally(() => {
          // A step that failed before it delivered or queued the batch: nothing is left to wait for.
          if (!early.some((b) => b.done === resolve)) resolve();
        });
      });
    },

    /** Catches up with the log (after a reconnect, or on a timer in case a message was lost). */
    catchUp(): Promise<void> {
      return run(async () => {
        const last = await source.lastId();
        if (last > delivered) await fill(last);
        deliverEarly();
      });
    },

    add(listener: EventListener): () => void {
      return listeners.add(listener);
    },
  };
}
