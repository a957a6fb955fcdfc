import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Database } from "better-sqlite3";
import { CoordError } from "../core/errors.js";
import { makeSqliteFilesPrivate, narrowSqliteFiles } from "./private-file.js";
import { migrate } from "./sqlite-schema.js";
import type { StoreOptions } from "./types.js";

export interface SqliteStoreOptions extends StoreOptions {
  /**
   * `NORMAL` (default): with WAL a commit survives a crash of the process and the database never
   * corrupts, but a power loss or OS crash may roll back the last few commits; it keeps commits
   * in the tens of microseconds, which the throughput targets need. `FULL` fsyncs every commit
   * (durable against power loss, at the cost of one fsync per transaction).
   */
  synchronous?: "NORMAL" | "FULL";
  /** How long a commit waits for a lock held by another connection (e.g. a backup). */
  busyTimeoutMs?: number;
}

/** How long opening waits for another process to let go of the file before refusing. */
const OPEN_LOCK_TIMEOUT_MS = 1000;

/** The size the WAL file is cut back to when it starts over after a burst made it larger. */
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

const inUse = (path: string) => new CoordError("UNAVAILABLE", `store sqlite://${path} is in use by another coordinator process`);
const cannotOpen = (path: string, err: unknown) => new CoordError("UNAVAILABLE", `cannot open SQLite store ${path}: ${(err as Error).message}`);

/**
 * Opens the file and takes it for this process alone: the store keeps listeners, long-poll
 * waiters and its claim order in memory, so a second coordinator on the same file would miss
 * the first one's changes. `locking_mode = EXCLUSIVE` holds the lock on the database file itself
 * until close (so symlinks and hard links to it are refused too; with WAL it also means no
 * shared-memory index, and readers in other processes are refused); the empty write transaction
 * takes it at once, so a second opener fails here rather than at its first commit.
 */
export function openExclusive(Sqlite: typeof import("better-sqlite3"), path: string, options: SqliteStoreOptions): Database {
  let db: Database;
  try {
    if (path !== ":memory:") {
      mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
      makeSqliteFilesPrivate(path);
    }
    db = new Sqlite(path, { timeout: OPEN_LOCK_TIMEOUT_MS });
  } catch (err) {
    throw cannotOpen(path, err);
  }
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    db.exec("BEGIN EXCLUSIVE; COMMIT");
    // The -wal exists from here on; SQLite copies the database's mode, this makes sure of it.
    if (path !== ":memory:") narrowSqliteFiles(path);
  } catch (err) {
    db.close();
    throw (err as { code?: string }).code === "SQLITE_BUSY" ? inUse(path) : cannotOpen(path, err);
  }
  try {
    db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    // Checkpoints are where WAL mode fsyncs, inside the commit that crosses the threshold: 1,000
    // pages (docs/performance.md, "SQLite checkpoints": larger ones stall longer, and smaller
    // steps between commits were no better here); a 32 MiB page cache roughly doubled commit
    // throughput in local measurements.
    db.pragma("wal_autocheckpoint = 1000");
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma("cache_size = -32768");
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
