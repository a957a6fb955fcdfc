import { signal } from "@preact/signals";
import { EVENT_TYPES } from "../core/types.js";
import { loadSession } from "./api.js";

export interface LiveEvent {
  id: number;
  type: string;
  data: Record<string, unknown> & { ts: string };
}

/** How many events the page keeps: the charts' hour, the Events tail, recent failures. */
export const KEEP_EVENTS = 5000;

/** The events held, oldest first (replayed history, then live ones). */
export const events = signal<LiveEvent[]>([]);
export const connected = signal(false);

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let pending: LiveEvent[] = [];
let flushing = false;

/** Calls `fn` for every event that arrives from now on; returns the unsubscribe. */
export function onEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function flush(): void {
  flushing = false;
  const batch = pending;
  pending = [];
  const next = events.value.concat(batch);
  events.value = next.length > KEEP_EVENTS ? next.slice(next.length - KEEP_EVENTS) : next;
}

/**
 * Opens the one event stream of the page: the browser's own EventSource, authenticated by the
 * session cookie, replaying from `since` and then live. On a dropped connection it reconnects by
 * itself with Last-Event-ID (no gap, no duplicate); a refused one (401: the session ended) sends
 * the page back to sign-in.
 */
export function connect(since: number): void {
  disconnect();
  const es = new EventSource(`/api/v1/events/stream?since=${since}`);
  source = es;
  const receive = (m: MessageEvent<string>) => {
    const e: LiveEvent = { id: Number(m.lastEventId), type: m.type, data: JSON.parse(m.data) as LiveEvent["data"] };
    pending.push(e);
    // Many replayed events arrive at once: one render per frame, not per event.
    if (!flushing) {
      flushing = true;
      requestAnimationFrame(flush);
    }
    for (const l of listeners) l(e);
  };
  for (const type of [...EVENT_TYPES, "stream.reset"]) es.addEventListener(type, receive as EventListener);
  es.onopen = () => (connected.value = true);
  es.onerror = () => {
    connected.value = false;
    if (es.readyState === EventSource.CLOSED && source === es) void loadSession();
  };
}

export function disconnect(): void {
  source?.close();
  source = undefined;
  connected.value = false;
  events.value = [];
}
