import type { CoordEvent } from "../core/types.js";
import { createEventListeners } from "./event-listeners.js";
import { createMutex } from "./mutex.js";
import type { EventListener } from "./types.js";

export interface EventFeedSource {
  /** Events with id > afterId from the stored log, oldest first. */
  readLog(afterId: number, limit: number): Promise<CoordEvent[]>;
  /** The last event id given by any replica. */
  lastId(): Promise<number>;
}

/**
 * Hands every committed event, from every replica, to the listeners in id order, exactly once.
 * Batches come from this replica's own commits and from pub/sub; pub/sub may drop messages
 * (reconnects), so whenever a batch starts past the next expected id, or a periodic check sees
 * the counter ahead, the gap is read from the stored log first. Batches already delivered are
 * skipped. Everything runs through one queue, so deliveries never interleave.
 */
export function createEventFeed(source: EventFeedSource) {
  const listeners = createEventListeners();
  const serial = createMutex();
  let delivered = 0;
  let onError: (err: unknown) => void = () => {};

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

    /** Where read failures during delivery go (they are retried by the next catch-up). */
    onError(handler: (err: unknown) => void): void {
      onError = handler;
    },
  };
}
