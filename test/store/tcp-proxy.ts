import { connect, createServer, type Socket } from "node:net";

/**
 * A loopback TCP proxy in front of a real server, that can lose one answer: the first reply on
 * the connection that sent a chunk containing `marker` is swallowed and both sockets are cut, so
 * the request ran on the server but the client never hears of it.
 */
export async function startTcpProxy(targetPort: number) {
  let armed: { marker: string; lost: () => void } | undefined;
  const marked = new Set<Socket>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const cut = () => (client.destroy(), upstream.destroy());
    client.on("data", (chunk: Buffer) => {
      if (armed && chunk.toString("latin1").includes(armed.marker)) marked.add(client);
      upstream.write(chunk);
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
