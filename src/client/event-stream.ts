import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { CoordEvent, EventType } from "../core/types.js";
import { ApiError } from "./errors.js";
import { backoffMs, parseRetryAfter, sleep, type Transport } from "./transport.js";
import type { ServerStatus, StreamEvent, StreamOptions } from "./types.js";

/** Used until the server sends `retry:` (the server sends 3000 first). */
const DEFAULT_RETRY_MS = 3000;
/** Three missed `: ping`s (every 15s) and the connection is considered dead. */
const IDLE_TIMEOUT_MS = 45_000;

/** Statuses after which reconnecting cannot help: bad query, bad token, wrong URL. */
function isFatal(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}

function toEvent(msg: EventSourceMessage): StreamEvent | undefined {
  let data: unknown;
  try {
    data = JSON.parse(msg.data);
  } catch {
    return undefined;
  }
  if (msg.event === "stream.reset") return { id: null, type: "stream.reset", data: data as { oldest_id: number } };
  const id = Number(msg.id);
  if (!msg.event || !Number.isInteger(id)) return undefined;
  return { id, type: msg.event as EventType, data: data as CoordEvent["data"] };
}

/**
 * The SSE event stream as an async iterable that reconnects by itself: it resumes with
 * `Last-Event-ID` (so the server replays what was missed), waits as long as the server's
 * `retry:` says (longer after repeated failures), and drops anything at or below the last id
 * it yielded, so no event comes twice and none is skipped. Ends when `signal` aborts or the
 * consumer stops iterating; throws on answers that reconnecting cannot fix (401, 403, 400).
 */
export async function* streamEvents(transport: Transport, options: StreamOptions = {}): AsyncGenerator<StreamEvent> {
  const { signal } = options;
  let lastId: number | undefined = options.since;
  if (lastId === undefined) {
    // "From now on" as an id, so that a reconnect before the first event still resumes
    // exactly here instead of at whatever is live by then.
    const status = await transport.request<ServerStatus>("GET", "/status", { signal });
    lastId = status.last_event_id;
  }
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;
  let connected = false;
  const stopped = () => signal?.aborted === true || transport.closed;
  while (!stopped()) {
    const controller = new AbortController();
    transport.streams.add(controller);
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(), IDLE_TIMEOUT_MS);
    };
    let body: AsyncIterable<Buffer> & { destroy(): void } | undefined;
    let error: unknown;
    try {
      armIdle();
      const headers = transport.headers({ accept: "text/event-stream" });
      if (lastId !== undefined) headers["last-event-id"] = String(lastId);
      const res = await transport.pool.request({
        method: "GET",
        path: transport.path("/events/stream", {
          since: lastId,
          types: options.types?.length ? options.types.join(",") : undefined,
          repo: options.repo,
        }),
        headers,
        signal: controller.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      body = res.body;
      if (res.statusCode !== 200) {
        transport.decode(res.statusCode, res.headers, await res.body.text());
        throw new ApiError(res.statusCode, "BAD_RESPONSE", `unexpected status ${res.statusCode} from the event stream`);
      }
      options.onConnect?.({ lastEventId: lastId, reconnect: connected });
      connected = true;
      failures = 0;
      const queue: StreamEvent[] = [];
      const parser = createParser({
        onEvent: (msg) => {
          const event = toEvent(msg);
          if (event) queue.push(event);
        },
        onRetry: (ms) => {
          retryMs = ms;
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        armIdle();
        parser.feed(decoder.decode(chunk, { stream: true }));
        while (queue.length > 0) {
          const event = queue.shift()!;
          if (event.id === null) {
            // The server replays every retained event from `oldest_id` next: both when our id
            // was trimmed away and when it is NEWER than the log (a coordinator on memory://
            // restarted), so continue from there or the replay is dropped as "seen".
            const oldest = event.data.oldest_id;
            lastId = Number.isInteger(oldest) && oldest > 0 ? oldest - 1 : 0;
          } else {
            if (lastId !== undefined && event.id <= lastId) continue; // replayed after a reconnect
            lastId = event.id;
          }
          yield event;
          if (stopped()) return;
        }
      }
      error = new Error("the server closed the event stream");
    } catch (err) {
      if (stopped()) return;
      if (isFatal(err)) throw err;
      error = err instanceof ApiError ? err : transport.connectionError(err);
    } finally {
      clearTimeout(idle);
      transport.streams.delete(controller);
      signal?.removeEventListener("abort", onAbort);
      body?.destroy();
    }
    const retryAfter = error instanceof ApiError ? parseRetryAfter(String(error.retryAfterSeconds ?? "")) : undefined;
    const wait = Math.max(retryMs, retryAfter !== undefined ? retryAfter * 1000 : 0, failures > 0 ? backoffMs(failures) : 0);
    failures++;
    options.onDisconnect?.({ error, retryInMs: wait, lastEventId: lastId });
    try {
      await sleep(Math.min(wait, 30_000), signal);
    } catch {
      return;
    }
  }
}
