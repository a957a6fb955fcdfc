import type { Database } from "better-sqlite3";
import { performance } from "node:perf_hooks";

export interface StepCheckpointsOptions {
  /** The first spacing of checkpoints (ms); it adapts from there (default 50). */
  startMs?: number;
}

/** A checkpoint step should stall the event loop about this long (ms)... */
const TARGET_MS = 1;
/** ...and take at most this share of its time (a slow disk's fsyncs space the steps out). */
const MAX_SHARE = 0.05;
const MIN_SPACING_MS = 10;
const MAX_SPACING_MS = 1000;

/** Step checkpoints of one store's connection: `afterCommit` after each commit, `stop` at close. */
export interface StepCheckpoints {
  afterCommit(): void;
  stop(): void;
}

/**
 * Checkpoints the WAL in small steps between commits. SQLite's own checkpoint runs inside the
 * commit that crosses `wal_autocheckpoint` pages: it copies the WAL into the database and fsyncs
 * both, 20-40 ms for 1,000 pages on the machines we measured, and every answer queued behind
 * that commit waits for it. The store holds its file with `locking_mode = EXCLUSIVE` (one process,
 * one connection), so no other thread can take that work; instead a PASSIVE checkpoint runs
 * right after a commit (from `setImmediate`, outside any transaction) once the spacing has
 * passed. Each step copies only the pages changed since the one before, and the next commit
 * starts the WAL over from its beginning. The spacing adapts so that a step takes about
 * TARGET_MS, and never more than MAX_SHARE of the time: a step is shorter at a high commit rate
 * and on a slow disk the fsyncs are fewer.
 */
export function createStepCheckpoints(db: Database, options: StepCheckpointsOptions = {}): StepCheckpoints {
  let spacing = options.startMs ?? 50;
  let last = performance.now();
  let pending: NodeJS.Immediate | undefined;

  function step(): void {
    pending = undefined;
    if (!db.open) return;
    const started = performance.now();
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // A failed step changes nothing (SQLITE_FULL, say): the next commit meets the same fault
      // and reports it, and the commits' own checkpoint stays as the bound.
    }
    const took = performance.now() - started;
    last = performance.now();
    const adapted = took > TARGET_MS ? spacing * 0.7 : took < TARGET_MS / 2 ? spacing * 1.25 : spacing;
    spacing = Math.min(MAX_SPACING_MS, Math.max(MIN_SPACING_MS, took / MAX_SHARE, adapted));
  }

  return {
    afterCommit() {
      if (!pending && performance.now() - last >= spacing) pending = setImmediate(step);
    },
    stop() {
      if (pending) clearImmediate(pending);
      pending = undefined;
    },
  };
}
