import type { CoordEvent } from "../core/types.js";
import type { EventListener } from "./types.js";

/** A listener set whose failures never reach the store's commit path. */
export function createEventListeners() {
  const listeners = new Set<EventListener>();
  return {
    add(listener: EventListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(events: CoordEvent[]): void {
      if (events.length === 0) return;
      for (const l of listeners) {
        try {
          l(events);
        } catch {
          // A listener's bug must not undo or block a committed change.
        }
      }
    },
  };
}
