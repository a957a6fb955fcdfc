import { chmodSync, closeSync, openSync } from "node:fs";

/** What SQLite keeps beside a database file. */
const COMPANIONS = ["", "-wal", "-shm", "-journal"];

/**
 * The database holds every task text and message: its file, created here before SQLite opens it,
 * is 0600 whatever the folder's mode or the umask, and SQLite gives its -wal and -shm the mode of
 * the database file. Files left by an older version with a wider mode are narrowed too.
 * Only before SQLite opens the file: closing any descriptor of a file drops every POSIX lock the
 * process holds on it, so an open and close here afterwards would free the store's exclusive
 * lock for other processes (use `narrowSqliteFiles` then).
 */
export function makeSqliteFilesPrivate(path: string): void {
  closeSync(openSync(path, "a", 0o600));
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
