import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { whilePortInUse } from "./port-in-use.js";

export interface ReceivedRequest {
  headers: IncomingMessage["headers"];
  body: string;
  json: { id: number; type: string; data: Record<string, unknown>; text?: string };
  at: number;
  /** What the receiver answered. */
  answered?: Answer;
}

/** How the receiver answers a request: a status, or "hang" (never answers). */
export type Answer = number | "hang";

/**
 * A real webhook receiver on 127.0.0.1, port 0: records every request and answers what `answer`
 * says (200 unless changed). Hung requests are ended by `close()`.
 */
export async function startReceiver(port = 0) {
  const requests: ReceivedRequest[] = [];
  const hung = new Set<ServerResponse>();
  let answer: (req: ReceivedRequest, n: number) => Answer = () => 200;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const got: ReceivedRequest = { headers: req.headers, body, json: JSON.parse(body) as ReceivedRequest["json"], at: Date.now() };
      requests.push(got);
      const a = answer(got, requests.length);
      got.answered = a;
      if (a === "hang") {
        hung.add(res);
        return;
      }
      res.writeHead(a, { "content-type": "text/plain" }).end(a >= 300 ? "receiver says no" : "ok");
    });
  });
  // Again on the port of an earlier receiver (a receiver "back up") when `port` is given.
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await (port === 0 ? listen() : whilePortInUse(listen));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/hook?token=q-secret`,
    port: actual,
    requests,
    /** Sets how later requests are answered. */
    answer(fn: (req: ReceivedRequest, n: number) => Answer) {
      answer = fn;
    },
    /** The event id of every request, answered or not. */
    ids: () => requests.map((r) => r.json.id),
    /** Event ids of the requests answered 2xx. */
    delivered: () => requests.filter((r) => typeof r.answered === "number" && r.answered < 300).map((r) => r.json.id),
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
