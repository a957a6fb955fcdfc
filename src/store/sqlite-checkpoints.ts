import type { Database } from "better-sqlite3";
import { performance } from "node:perf_hooks";

export interface StepCheckpointsOptions {
  /** The first spacing of checkpoints (ms); it adapts from there (default 50). */
  startMs?: number;
}

/** A checkpoint step should stall the event loop about this long (ms). */
const TARGET_MS = 1;
/**
 * A step of at most this many pages that still takes longer than TARGET_MS is the disk's fsyncs,
 * not the copying: stepping more often would not make it shorter, so such steps are spaced to
 * take at most MAX_SHARE of the time instead.
 */
const FEW_PAGES = 32;
const MAX_SHARE = 0.05;
const MIN_SPACING_MS = 10;
const MAX_SPACING_MS = 1000;

/**
 * The spacing after a step that took `tookMs` to copy `pages` WAL pages: shorter while steps
 * copy too much to stay near TARGET_MS (so each one copies less), longer while they are cheap,
 * and for a slow disk long enough that its fsyncs take at most MAX_SHARE of the time.
 */
export function nextSpacing(spacing: number, tookMs: number, pages: number): number {
  let next = spacing;
  if (tookMs > TARGET_MS) next = pages > FEW_PAGES ? spacing / 2 : Math.max(spacing, tookMs / MAX_SHARE);
  else if (tookMs < TARGET_MS / 2) next = spacing * 1.25;
  return Math.min(MAX_SPACING_MS, Math.max(MIN_SPACING_MS, next));
}

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
 * starts the WAL over from its beginning. The spacing adapts (`nextSpacing`) so that a step
 * takes about TARGET_MS.
 */
export function createStepCheckpoints(db: Database, options: StepCheckpointsOptions = {}): StepCheckpoints {
  let spacing = options.startMs ?? 50;
  let last = performance.now();
  let pending: NodeJS.Immediate | undefined;

  function step(): void {
    pending = undefined;
    if (!db.open) return;
    const started = performance.now();
    let pages = 0;
    try {
      pages = (db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[])[0]?.log ?? 0;
    } catch {
      // A failed step changes nothing (SQLITE_FULL, say): the next commit meets the same fault
      // and reports it, and the commits' own checkpoint stays as the bound.
    }
    last = performance.now();
    spacing = nextSpacing(spacing, last - started, pages);
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
