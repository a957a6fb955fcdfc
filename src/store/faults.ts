import { CoordError, isCoordError } from "../core/errors.js";

/** A command that was sent but not answered when the connection dropped: it may or may not have run. */
export class ConnectionDropped extends Error {
  constructor() {
    super("the connection to Redis dropped before the answer came");
    this.name = "ConnectionDropped";
  }
}

/** True for a ConnectionDropped, also as the cause of an UNAVAILABLE. */
export function isConnectionDropped(err: unknown): boolean {
  return err instanceof ConnectionDropped || (err as Error | undefined)?.cause instanceof ConnectionDropped;
}

/**
 * SQLite result codes (and their extended forms, `SQLITE_IOERR_WRITE`, `SQLITE_READONLY_DBMOVED`,
 * ...) that mean the store cannot answer now, with what to tell the caller.
 */
const SQLITE_FAULTS: [prefix: string, what: string][] = [
  ["SQLITE_FULL", "the disk holding the SQLite store is full"],
  ["SQLITE_READONLY", "the SQLite store is read-only"],
  ["SQLITE_IOERR", "the SQLite store had an I/O error"],
  ["SQLITE_BUSY", "the SQLite store is busy (locked by another process)"],
  ["SQLITE_LOCKED", "the SQLite store is locked"],
  ["SQLITE_CANTOPEN", "the SQLite store cannot be opened"],
  ["SQLITE_NOMEM", "SQLite ran out of memory"],
  ["SQLITE_PROTOCOL", "the SQLite store's locking failed"],
  ["SQLITE_CORRUPT", "the SQLite store is corrupt"],
  ["SQLITE_NOTADB", "the SQLite store is not a database"],
];

/** Node socket errors of a lost Redis connection. */
const NET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/** ioredis' own messages for a connection that is gone, and Redis replies that mean "not now". */
const REDIS_MESSAGES = /^(Connection is closed|Stream isn't writeable|Reached the max retries per request limit|READONLY |LOADING |MISCONF |OOM |NOREPLICAS |MASTERDOWN |BUSY |TRYAGAIN |CLUSTERDOWN )/;

/**
 * The one place that turns a store driver's failure into an answer: a full disk, a read-only
 * or failing database, a lost Redis become 503 UNAVAILABLE. `details.retry_safe` says whether
 * the request provably changed nothing, so a client may send it again: true for every failure
 * of SQLite (a failed transaction is rolled back whole) and of a Redis command that was never
 * answered because it never went out; false when a command was sent and its answer lost.
 * Undefined for errors that are not store faults (bugs stay 500s).
 */
export function storeFault(err: unknown): CoordError | undefined {
  if (isCoordError(err)) return err.code === "UNAVAILABLE" ? err : undefined;
  const e = err as (Error & { code?: unknown }) | undefined;
  if (!e || typeof e !== "object") return undefined;
  const code = typeof e.code === "string" ? e.code : "";
  const sqlite = code.startsWith("SQLITE_") ? SQLITE_FAULTS.find(([prefix]) => code.startsWith(prefix)) : undefined;
  if (sqlite) return fault(`${sqlite[1]} (${code}); retry later`, true, code, err);
  if (isConnectionDropped(err)) return fault("the connection to Redis dropped before the answer came; check before retrying", false, "CONNECTION_DROPPED", err);
  if (NET_CODES.has(code) || e.name === "MaxRetriesPerRequestError" || REDIS_MESSAGES.test(e.message ?? "")) {
    return fault(`redis: ${e.message}; retry later`, true, code || e.name, err);
  }
  return undefined;
}

function fault(message: string, retrySafe: boolean, storeError: string, cause: unknown): CoordError {
  const out = new CoordError("UNAVAILABLE", `store unavailable: ${message}`, { retry_safe: retrySafe, store_error: storeError });
  out.cause = cause;
  return out;
}
