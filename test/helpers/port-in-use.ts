/**
 * Runs `start` (a listen on a fixed port: a restart on the port of the last run) again while it
 * fails with EADDRINUSE, for up to about 5 s: test files run in parallel and bind port 0 all the
 * time, so another process may hold the port for a moment after it was let go.
 */
export async function whilePortInUse<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
