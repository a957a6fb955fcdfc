/**
 * A guard for a known ioredis fault (redis/ioredis#1931, still in 5.x): with auto-pipelining,
 * a pipeline whose reply list comes back shorter than its commands (seen once while stores
 * closed with creates in flight) throws `results[i] is not iterable` from a process.nextTick in
 * autoPipelining.js, an uncaught exception that would end `serve`. The commands concerned get
 * no answer; the transactions waiting on them end with the request's own timeout or shutdown.
 */

/** Whether `err` is that ioredis auto-pipelining TypeError (and not any other uncaught error). */
export function isAutoPipelineFault(err: unknown): boolean {
  return err instanceof TypeError && /is not iterable/.test(err.message) && /ioredis[\\/]built[\\/]autoPipelining\.js/.test(err.stack ?? "");
}

export interface PipelineGuardOptions {
  log(line: string): void;
  /** What any other uncaught exception does: as Node does, print it and exit 1. */
  fatal?(err: unknown): void;
}

/** The uncaughtException handler `installPipelineGuard` registers (apart, so it can be tested). */
export function pipelineGuardHandler(options: PipelineGuardOptions): (err: unknown) => void {
  const fatal =
    options.fatal ??
    ((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
  return (err) => {
    if (isAutoPipelineFault(err)) options.log(`redis: ignored an ioredis auto-pipelining fault (${(err as Error).message}); the commands concerned got no reply`);
    else fatal(err);
  };
}

/**
 * Installs the process-wide handler for `serve`: the ioredis fault is logged as one line and
 * `serve` goes on; every other uncaught exception still ends the process. Returns the uninstall.
 */
export function installPipelineGuard(options: PipelineGuardOptions): () => void {
  const handler = pipelineGuardHandler(options);
  process.on("uncaughtException", handler);
  return () => process.off("uncaughtException", handler);
}
