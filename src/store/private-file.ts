import { chmodSync, closeSync, openSync } from "node:fs";

/** What SQLite keeps beside a database file. */
const COMPANIONS = ["", "-wal", "-shm", "-journal"];

/**
 * The database holds every task text and message: its file, created here before SQLite opens it,
 * is 0600 whatever the folder's mode or the umask, and SQLite gives its -wal and -shm the mode of
 * the database file. Files left by an older version with a wider mode are narrowed too.
 * Closing any descriptor of a file drops every POSIX lock the process holds on it, so nothing
 * here opens a file that exists: an open and close of the database would free a running store's
 * exclusive lock for other processes.
 */
export function makeSqliteFilesPrivate(path: string): void {
  // Only a missing file is opened (to create it): an existing one may be this process's own
  // open store, whose lock closing a descriptor would drop.
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  narrowSqliteFiles(path);
}

/** Narrows the database and its companions that exist to 0600, without opening any of them. */
export function narrowSqliteFiles(path: string): void {
  for (const suffix of COMPANIONS) {
    try {
      chmodSync(`${path}${suffix}`, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}
