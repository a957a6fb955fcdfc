import type { CoordEvent } from "../core/types.js";
import { createBufferedTx, createWriteSet, isEmptyWriteSet, type WriteSet } from "./buffered-tx.js";
import { createEventListeners } from "./event-listeners.js";
import { createMutex } from "./mutex.js";
import type { EventListener, StoreTx, StoreTxReads } from "./types.js";

export interface SerialTransactOptions {
  /** The store's committed state, which `fn` reads under the overlay of its own writes. */
  reads: StoreTxReads;
  /** Applies a non-empty write set in one atomic step and returns its events with their ids. */
  commit(ws: WriteSet): CoordEvent[];
  /** Runs before each transaction, inside the lock (e.g. throws once the store is closed). */
  check?(): void;
}

/**
 * `transact` of a single-process store: transactions run one at a time (so `fn` reads a stable
 * state), writes are buffered, then committed in one step, and the listeners get the events.
 * A transaction that wrote nothing (a claim that found no task) commits nothing.
 */
export function createSerialTransact(options: SerialTransactOptions) {
  const { reads, commit, check } = options;
  const listeners = createEventListeners();
  const serial = createMutex();
  return {
    transact<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      return serial(async () => {
        check?.();
        const ws = createWriteSet();
        const result = await fn(createBufferedTx(reads, ws));
        if (!isEmptyWriteSet(ws)) listeners.emit(commit(ws));
        return result;
      });
    },
    /** Runs `step` between transactions (e.g. closing the database). */
    serial,
    onEvents(listener: EventListener): () => void {
      return listeners.add(listener);
    },
  };
}
