/**
 * A one-shot wake-up call for loops that sleep: `wait(ms)` resolves after `ms` or as soon as
 * `wake()` is called, whichever is first. Never rejects.
 */
export interface Wakeup {
  /** Ends every wait in progress (a later wait is not affected). */
  wake(): void;
  wait(ms: number): Promise<void>;
}

export function createWakeup(): Wakeup {
  return new TimerWakeup();
}

class TimerWakeup implements Wakeup {
  private waiters = new Set<() => void>();

  wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }
}

/** Exponential backoff with jitter: `baseMs`, 2×, 4× ... capped at `maxMs`, each ±25%. */
export function backoff(failures: number, baseMs: number, maxMs: number): number {
  const ms = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return ms * (0.75 + Math.random() * 0.5);
}
