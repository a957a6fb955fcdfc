/**
 * A minimal SSE reader for tests, on node:http so it controls its own socket (closing it is a
 * real disconnect) and sees every line the server writes: `retry:`, comments, `id:`/`event:`/
 * `data:` frames. It parses by the SSE rules (fields end at a line break, a blank line ends a
 * frame) and keeps everything in arrival order.
 */
import http from "node:http";

export type SseItem =
  | { kind: "retry"; value: number }
  | { kind: "comment"; text: string }
  | { kind: "event"; id: string | undefined; event: string; data: string };

export interface SseEvent {
  id: number | undefined;
  event: string;
  data: any;
}

export interface SseConnection {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Everything received, in order. */
  items: SseItem[];
  /** The `event` items, data parsed as JSON. */
  readonly events: SseEvent[];
  /** For an answer that is not a stream (4xx): the body text. */
  body: string;
  /** Resolves when the server ends the stream (or the socket closes). */
  ended: Promise<void>;
  readonly isEnded: boolean;
  /** Waits until `pred` holds for the items so far, or fails after `timeoutMs`. */
  waitFor(pred: (c: SseConnection) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Waits until at least `n` events have arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

export interface SseOptions {
  token?: string | null;
  lastEventId?: string;
  headers?: Record<string, string>;
}

/** Opens `GET url` as an event stream; resolves once the status line and headers are in. */
export function openEventStream(url: string, opts: SseOptions = {}): Promise<SseConnection> {
  const headers: Record<string, string> = { accept: "text/event-stream", ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId !== undefined) headers["last-event-id"] = opts.lastEventId;

  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const items: SseItem[] = [];
      const waiters = new Set<() => void>();
      let buffer = "";
      let frame: { id?: string; event?: string; data: string[] } = { data: [] };
      let ended = false;
      let endResolve!: () => void;
      const endedPromise = new Promise<void>((r) => (endResolve = r));
      const notify = () => waiters.forEach((w) => w());

      const line = (text: string) => {
        if (text === "") {
          if (frame.data.length > 0 || frame.event !== undefined) {
            items.push({ kind: "event", id: frame.id, event: frame.event ?? "message", data: frame.data.join("\n") });
          }
          frame = { data: [] };
          return;
        }
        if (text.startsWith(":")) {
          items.push({ kind: "comment", text: text.slice(1).trimStart() });
          return;
        }
        const colon = text.indexOf(":");
        const field = colon === -1 ? text : text.slice(0, colon);
        let value = colon === -1 ? "" : text.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "retry") items.push({ kind: "retry", value: Number(value) });
        else if (field === "id") frame.id = value;
        else if (field === "event") frame.event = value;
        else if (field === "data") frame.data.push(value);
      };

      const conn: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        items,
        body: "",
        ended: endedPromise,
        get isEnded() {
          return ended;
        },
        get events() {
          return items
            .filter((i): i is Extract<SseItem, { kind: "event" }> => i.kind === "event")
            .map((i) => ({ id: i.id === undefined ? undefined : Number(i.id), event: i.event, data: JSON.parse(i.data) }));
        },
        waitFor(pred, timeoutMs = 5000, what = "condition") {
          return new Promise((ok, fail) => {
            const check = () => {
              if (pred(conn)) {
                cleanup();
                ok();
              } else if (ended) {
                cleanup();
                fail(new Error(`stream ended before ${what}; got ${JSON.stringify(items)}`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(items)}`));
            }, timeoutMs);
            const cleanup = () => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
        async waitForEvents(n, timeoutMs = 5000) {
          await conn.waitFor((c) => c.events.length >= n, timeoutMs, `${n} events`);
          return conn.events;
        },
        close() {
          res.destroy();
          req.destroy();
        },
      };

      res.setEncoding("utf8");
      const isStream = String(res.headers["content-type"] ?? "").startsWith("text/event-stream");
      res.on("data", (chunk: string) => {
        if (!isStream) {
          conn.body += chunk;
          return;
        }
        buffer += chunk;
        // Lines end at \r\n, \n or \r; keep an unfinished last line (and a lone trailing \r) for later.
        const parts = buffer.split(/\r\n|\n|\r(?!$)/);
        buffer = parts.pop() ?? "";
        parts.forEach(line);
        notify();
      });
      const end = () => {
        if (ended) return;
        ended = true;
        endResolve();
        notify();
      };
      res.on("end", end);
      res.on("close", end);
      res.on("error", end);
      resolve(conn);
    });
    req.on("error", reject);
  });
}
