import type { ServerResponse } from "node:http";
import type { CoordEvent } from "../core/types.js";

/** A stream past this many unsent bytes belongs to a client that cannot keep up: it is cut and resumes by id. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** `drain()` waits until no more than this is unsent: replay goes at the pace the client reads. */
const DRAINED_BYTES = 64 * 1024;

/** Frames by event: with many subscribers, each event is serialised once, not once per stream. */
const frames = new WeakMap<CoordEvent, string>();

export function eventFrame(e: CoordEvent): string {
  let frame = frames.get(e);
  if (frame === undefined) {
    frame = `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
    frames.set(e, frame);
  }
  return frame;
}

export interface SseWriter {
  send(event: CoordEvent): boolean;
  /** An event without id (it is not part of the log), e.g. `stream.reset`. */
  notice(type: string, data: unknown): boolean;
  comment(text: string): boolean;
  /**
   * Writes what is queued now and waits until the client has taken most of it (or the stream
   * closed): a replay awaits this after each page, so a stream holds about one page in memory.
   */
  drain(): Promise<void>;
  close(): void;
  readonly closed: boolean;
  /** The Authorization header the stream was opened with, to re-check after a token change. */
  authorization?: string;
  /** The dashboard session (its id hash) the stream was opened with, if any, to end the stream with it. */
  sessionId?: string;
}

/**
 * Frames are written in batches. With many streams, one write per event per stream would be
 * a syscall per frame (1,000 streams × 1,000 events/s); instead each stream collects frames and
 * one shared timer flushes every pending stream. The window grows with the number of open
 * streams (1 ms per 40, up to 25 ms) so a few streams still get their events at once.
 */
const pending = new Set<() => void>();
let flushTimer: NodeJS.Timeout | undefined;
/** Open streams in this process: the more there are, the longer the batching window. */
let openStreams = 0;

function flushAll(): void {
  flushTimer = undefined;
  const batch = [...pending];
  pending.clear();
  for (const flush of batch) flush();
}

function scheduleFlush(flush: () => void): void {
  pending.add(flush);
  flushTimer ??= setTimeout(flushAll, Math.min(25, Math.floor(openStreams / 40)));
}

/**
 * SSE framing in one place: `retry:` first, then `id`/`event`/`data` frames with the data as
 * one line of JSON (JSON.stringify escapes newlines, so a field can never break a frame).
 */
export function createSseWriter(res: ServerResponse, retryMs: number, onClose: () => void): SseWriter {
  let closed = false;
  let queued: string[] = [];
  /** Bytes (UTF-16 units, near enough) in `queued`. */
  let queuedLength = 0;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  openStreams++;
  const finish = () => {
    if (closed) return;
    closed = true;
    openStreams--;
    queued = [];
    queuedLength = 0;
    pending.delete(flush);
    onClose();
  };
  res.on("close", finish);
  res.on("error", finish);

  /** Cuts a stream that fell too far behind: the client reconnects and resumes by id. */
  function cut(): void {
    res.destroy();
    finish();
  }

  function flush(): void {
    if (closed || queued.length === 0) return;
    const chunk = queued.length === 1 ? queued[0]! : queued.join("");
    queued = [];
    queuedLength = 0;
    res.write(chunk);
  }

  function write(frame: string): boolean {
    if (closed) return false;
    if (res.writableLength + queuedLength + frame.length > MAX_BUFFERED_BYTES) {
      cut();
      return false;
    }
    queued.push(frame);
    queuedLength += frame.length;
    if (queued.length === 1) scheduleFlush(flush);
    return true;
  }

  async function drain(): Promise<void> {
    pending.delete(flush);
    flush();
    while (!closed && res.writableLength > DRAINED_BYTES) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    }
  }

  res.write(`retry: ${retryMs}\n\n`);
  return {
    send: (e) => write(eventFrame(e)),
    notice: (type, data) => write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`),
    comment: (text) => write(`: ${text}\n\n`),
    drain,
    close() {
      if (!closed) {
        flush();
        res.end();
      }
      finish();
    },
    get closed() {
      return closed;
    },
  };
}
