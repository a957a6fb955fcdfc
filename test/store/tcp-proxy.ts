import { connect, createServer, type Socket } from "node:net";

/**
 * A loopback TCP proxy in front of a real server, that can lose one answer: the first reply on
 * the connection that sent a chunk containing `marker` is swallowed and both sockets are cut, so
 * the request ran on the server but the client never hears of it. It can also hold one request:
 * the chunk containing `marker`, and what follows it on that connection, wait until released
 * (a request known to be in flight, neither run nor answered).
 */
export async function startTcpProxy(targetPort: number) {
  let armed: { marker: string; lost: () => void } | undefined;
  let holding: { marker: string; held: () => void } | undefined;
  /** Chunks of held connections, sent on release. */
  const held = new Map<Socket, Buffer[]>();
  const upstreams = new Map<Socket, Socket>();
  const marked = new Set<Socket>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    upstreams.set(client, upstream);
    const cut = () => (client.destroy(), upstream.destroy());
    client.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      if (armed && text.includes(armed.marker)) marked.add(client);
      if (holding && !held.has(client) && text.includes(holding.marker)) {
        held.set(client, []);
        const { held: done } = holding;
        holding = undefined;
        done();
      }
      const queue = held.get(client);
      if (queue) queue.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (marked.has(client) && armed) {
        const { lost } = armed;
        armed = undefined;
        cut();
        lost();
        return;
      }
      client.write(chunk);
    });
    client.on("error", cut).on("close", cut);
    upstream.on("error", cut).on("close", cut);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}/0`,
    /** Resolves once the next request containing `marker` arrived and is held back (see `release`). */
    holdNext(marker: string): Promise<void> {
      return new Promise((done) => (holding = { marker, held: done }));
    },
    /** Sends on what is held, and forwards that connection as before. */
    release(): void {
      for (const [client, chunks] of held) {
        held.delete(client);
        for (const c of chunks) upstreams.get(client)?.write(c);
      }
    },
    /** Resolves once the answer to the next request containing `marker` has been lost. */
    loseNextAnswer(marker: string): Promise<void> {
      return new Promise((lost) => (armed = { marker, lost }));
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
