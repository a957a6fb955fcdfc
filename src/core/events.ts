import type { CoordEvent, EventData, EventType } from "./types.js";
import { EVENT_TYPES } from "./types.js";
import { CoordError } from "./errors.js";

/** A filter over the event log: type globs (`task.*`, `node.offline`) and a repo. */
export interface EventFilter {
  types?: string[];
  repo?: string;
}

/** Parses `task.*,node.offline` and rejects globs that can match no event type. */
export function parseTypeGlobs(text: string | undefined): string[] | undefined {
  if (!text) return undefined;
  const globs = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const g of globs) {
    if (!EVENT_TYPES.some((t) => typeMatches(t, g))) {
      throw new CoordError("INVALID_REQUEST", `types: "${g}" matches no event type`, {
        fields: [{ field: "types", message: `unknown event type "${g}"` }],
        known: EVENT_TYPES,
      });
    }
  }
  return globs.length ? globs : undefined;
}

function typeMatches(type: EventType, glob: string): boolean {
  if (glob === "*") return true;
  if (glob.endsWith(".*")) return type.startsWith(glob.slice(0, -1));
  return type === glob;
}

/** Builds a predicate once, so the SSE fan-out does no parsing per event. */
export function compileEventFilter(filter: EventFilter): (event: CoordEvent) => boolean {
  const { types, repo } = filter;
  if (!types && !repo) return () => true;
  return (event) => {
    if (types && !types.some((g) => typeMatches(event.type, g))) return false;
    if (repo && event.data.repo !== repo) return false;
    return true;
  };
}

/** Free text inside an event's data is cut to this many bytes (UTF-8); the record keeps it whole. */
export const EVENT_TEXT_LIMIT = 1024;

const encoder = new TextEncoder();
const scratch = new Uint8Array(EVENT_TEXT_LIMIT);

/** `text` cut to at most EVENT_TEXT_LIMIT bytes of UTF-8, never inside a character; undefined when it fits. */
function cutText(text: string): string | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short strings need no measuring.
  if (text.length * 3 <= EVENT_TEXT_LIMIT) return undefined;
  const { read } = encoder.encodeInto(text, scratch);
  return read < text.length ? text.slice(0, read) : undefined;
}

function boundValue(value: unknown, cut: { any: boolean }): unknown {
  if (typeof value === "string") {
    const short = cutText(value);
    if (short === undefined) return value;
    cut.any = true;
    return short;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const b = boundValue(v, cut);
      if (b !== v) (out ??= [...value])[i] = b;
    });
    return out ?? value;
  }
  if (value !== null && typeof value === "object") {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const b = boundValue(v, cut);
      if (b !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = b;
    }
    return out ?? value;
  }
  return value;
}

/**
 * An event as the log keeps it: every string inside its data (description, summary, reason,
 * body, an agent's task text...) cut to 1 KiB, and `truncated: true` when anything was cut. The
 * log is read by every stream and script, so one large task text must not be copied into it
 * whole; the task or message record keeps the full text. Returns `event` itself when nothing
 * needed cutting.
 */
export function boundEvent<E extends { data: EventData }>(event: E): E {
  const cut = { any: false };
  const data = boundValue(event.data, cut) as EventData;
  return cut.any ? { ...event, data: { ...data, truncated: true } } : event;
}

/** Default of `events.max_bytes`: the most the stored event log may hold, in bytes. */
export const DEFAULT_EVENT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * What one stored event counts against `events.max_bytes`: the UTF-8 bytes of its JSON,
 * `{"id":N,"type":"T","data":D}`, given the JSON of its data (every store computes the same).
 */
export function eventSize(id: number, type: string, dataJson: string): number {
  return Buffer.byteLength(dataJson, "utf8") + type.length + String(id).length + EVENT_JSON_FRAME;
}

/** The bytes of `{"id":,"type":"","data":}`. */
const EVENT_JSON_FRAME = 25;
