import { connect, type Socket } from "node:net";

/** A plain TCP connection to a test server, for requests no HTTP client would send (slow, partial, malformed). */
export interface RawConnection {
  socket: Socket;
  /** Everything received so far. */
  readonly received: string;
  /** Resolves when the server closed the connection, with the ms since it was opened. */
  closed: Promise<number>;
  send(text: string): void;
  /** Waits until `received` matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Opens a TCP connection to the host and port of `url`; resolves once connected. */
export function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = "";
    const socket = connect({ host: hostname, port: Number(port) });
    const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now() - started)));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    socket.on("error", () => {}); // a refused or reset socket shows as `closed`
    socket.once("connect", () =>
      resolve({
        socket,
        get received() {
          return received;
        },
        closed,
        send: (text) => void socket.write(text),
        async waitFor(pattern, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const m = received.match(pattern);
            if (m) return m;
            if (socket.destroyed || Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(received.slice(0, 500))}`);
            await new Promise((r) => setTimeout(r, 10));
          }
        },
      }),
    );
    socket.once("error", reject);
  });
}

/** The JSON body of the first HTTP response in `text`. */
export function responseBody(text: string): any {
  return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
}
