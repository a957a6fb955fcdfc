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
}

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
 * (reconnects), so whenever a batch starts past the next expected id, or a periodic check sees
 * the counter ahead, the gap is read from the stored log first. Batches already delivered are
 * skipped. Everything runs through one queue, so deliveries never interleave.
 */
export function createEventFeed(source: EventFeedOptions) {
  const listeners = createEventListeners();
  const serial = createMutex();
  const onError = source.onError ?? createErrorReporter();
  let delivered = 0;

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
      return run(async () => {
        if (events[events.length - 1]!.id <= delivered) return;
        if (events[0]!.id > delivered + 1) await fill(events[0]!.id - 1);
        deliver(events);
      });
    },

    /** Catches up with the log (after a reconnect, or on a timer in case a message was lost). */
    catchUp(): Promise<void> {
      return run(async () => {
        const last = await source.lastId();
        if (last > delivered) await fill(last);
      });
    },

    add(listener: EventListener): () => void {
      return listeners.add(listener);
    },
  };
}
