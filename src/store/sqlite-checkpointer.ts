import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface SqliteCheckpointerOptions {
  /** How often the worker looks for WAL frames to copy (default 250 ms). */
  intervalMs?: number;
  /** Called once if the worker stops working (the store then checkpoints on its own thread again). */
  onFailure?: (reason: string) => void;
}

/** The most passes in a row one look makes while commits keep adding frames. */
const MAX_PASSES = 8;

// The worker's code, run as a CommonJS script (`eval`): a file beside this one would not exist
// when the sources run under the test runner. It opens its own connection to the database and,
// every interval, copies the WAL into the database file (PASSIVE: it never waits for, nor blocks,
// the store's writer). A pass copies the frames that were there when it began; commits made
// meanwhile are copied by the next pass, so it repeats until a pass finds nothing new: then the
// whole WAL is in the database file and the store's next commit starts the WAL over from its
// beginning, which keeps the file small.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
let db;
let timer;
try {
  db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
} catch (err) {
  parentPort.postMessage({ failed: String(err && err.message || err) });
}
function look() {
  try {
    let last;
    let caughtUp = false;
    for (let i = 0; i < workerData.maxPasses && !caughtUp; i++) {
      const r = db.pragma("wal_checkpoint(PASSIVE)")[0];
      caughtUp = r.log <= 0 || r.busy !== 0 || (r.log === last && r.checkpointed === r.log);
      last = r.log;
    }
    // Caught up: wait, so that the next look copies a batch (a page changed by every commit is
    // copied once per look, not once per commit). Still behind: chase again soon.
    timer = setTimeout(look, caughtUp ? workerData.intervalMs : 10);
  } catch (err) {
    parentPort.postMessage({ failed: String(err && err.message || err) });
  }
}
if (db) timer = setTimeout(look, workerData.intervalMs);
parentPort.on("message", () => {
  clearTimeout(timer);
  try { db && db.close(); } catch {}
  parentPort.close();
});
`;

/** A running checkpointer: `close` stops it and waits for its connection to close. */
export interface SqliteCheckpointer {
  close(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the event loop. A checkpoint copies the WAL into the database file
 * and fsyncs both (20-40 ms for 1,000 pages on the machines we measured), and SQLite runs it
 * inside whichever commit crosses `wal_autocheckpoint`: every answer queued behind that commit
 * waited for the disk. Here a worker thread with its own connection does it, while the store's
 * connection keeps committing. The caller keeps a large `wal_autocheckpoint` as a bound for when
 * the worker falls behind (or has stopped: `onFailure`).
 */
export function createSqliteCheckpointer(path: string, options: SqliteCheckpointerOptions = {}): SqliteCheckpointer {
  const module = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { module, path, intervalMs: options.intervalMs ?? 250, maxPasses: MAX_PASSES },
  });
  // A checkpointer must never keep the process alive on its own.
  worker.unref();
  let closing = false;
  let failed = false;
  const fail = (reason: string) => {
    if (failed || closing) return;
    failed = true;
    options.onFailure?.(reason);
  };
  worker.on("message", (m: { failed?: string }) => m.failed && fail(m.failed));
  worker.on("error", (err) => fail(err.message));
  worker.on("exit", () => fail("the checkpoint worker exited"));
  const exited = new Promise<void>((r) => worker.once("exit", () => r()));
  return {
    async close() {
      if (closing) return exited;
      closing = true;
      worker.postMessage("close");
      // A pass in progress finishes first (it cannot be interrupted); a stuck one is cut off.
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
