import type { CoordEvent, EventType } from "./types.js";
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
