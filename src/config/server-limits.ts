import type { SectionReader } from "./reader.js";

/** `server.timeouts`, `server.max_connections`, `server.max_connections_per_address`, normalised. */
export interface ConnectionLimits {
  /** The request line and headers must arrive within this (ms). */
  headers_timeout_ms: number;
  /** The whole request, headers and body, must arrive within this (ms); never less than the headers timeout. */
  body_timeout_ms: number;
  /** An idle keep-alive connection is closed after this (ms). */
  idle_timeout_ms: number;
  /** Open sockets at most; new ones past it are closed at once. */
  max_connections: number;
  /** Open connections (under trust_proxy: requests in flight) from one client address at most; 0 = no limit. */
  max_connections_per_address: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headers_timeout_ms: 10_000,
  body_timeout_ms: 30_000,
  idle_timeout_ms: 75_000,
  max_connections: 20_000,
  max_connections_per_address: 2_000,
};

/** Reads the connection limits from the `server` section (its keys `timeouts`, `max_connections`, `max_connections_per_address`). */
export function readConnectionLimits(server: SectionReader): ConnectionLimits {
  const d = DEFAULT_CONNECTION_LIMITS;
  const timeouts = server.section("timeouts");
  timeouts.rejectUnknown(["headers", "body", "idle"]);
  const limits: ConnectionLimits = {
    headers_timeout_ms: timeouts.duration("headers", d.headers_timeout_ms),
    body_timeout_ms: timeouts.duration("body", d.body_timeout_ms),
    idle_timeout_ms: timeouts.duration("idle", d.idle_timeout_ms),
    max_connections: server.integer("max_connections", d.max_connections, 1),
    max_connections_per_address: server.integer("max_connections_per_address", d.max_connections_per_address, 0),
  };
  // The body timeout counts from the start of the request, so it must leave room for the headers.
  if (limits.body_timeout_ms < limits.headers_timeout_ms) timeouts.problem("body", "must be at least server.timeouts.headers");
  return limits;
}
