import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Database } from "better-sqlite3";
import { CoordError } from "../core/errors.js";
import { makeSqliteFilesPrivate } from "./private-file.js";
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
  /**
   * Checkpoint the WAL in a worker thread (default true for a file): off the event loop, where
   * a checkpoint's fsyncs stalled every answer for 20-40 ms. `false` leaves it to SQLite's
   * automatic checkpoints inside commits.
   */
  checkpointWorker?: boolean;
}

/** How long opening waits for another process to let go of the file before refusing. */
const OPEN_LOCK_TIMEOUT_MS = 1000;

/**
 * The WAL size (pages) at which a commit checkpoints on the event loop itself: with the
 * checkpoint worker running this is only a bound for when it falls behind (about 40 MiB).
 */
const FALLBACK_CHECKPOINT_PAGES = 10_000;

const inUse = (path: string) => new CoordError("UNAVAILABLE", `store sqlite://${path} is in use by another coordinator process`);
const cannotOpen = (path: string, err: unknown) => new CoordError("UNAVAILABLE", `cannot open SQLite store ${path}: ${(err as Error).message}`);

/** Runs `open` and turns SQLite's "busy" into "in use", closing `db` on any failure. */
function guarded(path: string, db: Database, open: () => void): void {
  try {
    open();
  } catch (err) {
    db.close();
    throw (err as { code?: string }).code === "SQLITE_BUSY" ? inUse(path) : err instanceof CoordError ? err : cannotOpen(path, err);
  }
}

/**
 * Takes `<path>.lock` for this process alone, before the database is opened: the store keeps
 * listeners, long-poll waiters and indexes in memory, so a second coordinator on the same file
 * would miss the first one's changes. The lock is SQLite's own exclusive lock on that (empty)
 * file, held until close, so it goes with the process however it ends. The database itself is
 * opened in normal locking mode, so that the checkpoint worker's connection (and a reader such
 * as `sqlite3 FILE .backup`) can use it beside the store.
 */
export function takeLock(Sqlite: typeof import("better-sqlite3"), path: string): Database | undefined {
  if (path === ":memory:") return undefined;
  const lockPath = `${path}.lock`;
  let lock: Database;
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
    makeSqliteFilesPrivate(path);
    closeSync(openSync(lockPath, "a", 0o600));
    chmodSync(lockPath, 0o600);
    lock = new Sqlite(lockPath, { timeout: OPEN_LOCK_TIMEOUT_MS });
  } catch (err) {
    throw cannotOpen(path, err);
  }
  guarded(path, lock, () => {
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE; COMMIT");
  });
  return lock;
}

/** Opens the database (after `takeLock`): WAL, migrated, refused when an older version holds it. */
export function openDatabase(Sqlite: typeof import("better-sqlite3"), path: string, options: SqliteStoreOptions, background: boolean): Database {
  let db: Database;
  try {
    db = new Sqlite(path, { timeout: OPEN_LOCK_TIMEOUT_MS });
  } catch (err) {
    throw cannotOpen(path, err);
  }
  guarded(path, db, () => {
    db.pragma("journal_mode = WAL");
    // An older version holds its file with locking_mode EXCLUSIVE and knows no lock file: a
    // write transaction here fails at once while it runs.
    db.exec("BEGIN IMMEDIATE; COMMIT");
    // The -wal and -shm exist from here on; SQLite copies the database's mode, this makes sure of it.
    if (path !== ":memory:") makeSqliteFilesPrivate(path);
    db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    // Checkpoints are where WAL mode fsyncs. With the worker (sqlite-checkpointer.ts) they run
    // off the event loop and this is only a bound; without it, fewer larger ones and a 32 MiB
    // page cache roughly doubled commit throughput in local measurements.
    db.pragma(`wal_autocheckpoint = ${background ? FALLBACK_CHECKPOINT_PAGES : 1000}`);
    db.pragma("cache_size = -32768");
    migrate(db);
  });
  return db;
}

