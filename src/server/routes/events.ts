import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { CoordError } from "../../core/errors.js";
import { compileEventFilter, parseTypeGlobs } from "../../core/events.js";
import type { CoordEvent } from "../../core/types.js";
import type { Coordinator } from "../../coordinator/index.js";
import { defineRoute } from "../route.js";
import * as S from "../schemas.js";
import { createSseWriter, type SseWriter } from "../sse.js";

/** Events read from the store per replay page. */
const REPLAY_PAGE = 200;
/** Live events held while a replay runs; more are read back from the store. */
const REPLAY_BACKLOG = 1000;

export interface EventRouteOptions {
  pingIntervalMs: number;
  retryMs: number;
  /** Open streams, so shutdown can end them. */
  streams: Set<SseWriter>;
  maxStreamsPerToken: number;
}

function parseLastEventId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0]! : header;
  if (!/^\d{1,15}$/.test(text.trim())) {
    throw new CoordError("INVALID_REQUEST", "Last-Event-ID must be an event id (a non-negative integer)", {
      fields: [{ field: "header.last-event-id", message: "not an integer" }],
    });
  }
  return Number(text.trim());
}

export function eventRoutes(app: FastifyInstance, coordinator: Coordinator, options: EventRouteOptions): void {
  const tags = ["events"];
  const openPerToken = new Map<string, number>();
  defineRoute(app, {
    method: "GET",
    url: "/events",
    operationId: "listEvents",
    access: "read",
    summary: "Events after `since` (for scripts); same ids and data as the stream",
    tags,
    querystring: S.EventsQuery,
    response: Type.Object({
      events: Type.Array(S.Event),
      oldest_id: Type.Integer(),
      last_event_id: Type.Integer(),
      reset: Type.Boolean(),
      next: Type.Integer({ description: "`since` of the next read; the log has more to look at while next < last_event_id" }),
    }),
    handler: ({ query }) =>
      coordinator.readEvents(query.since ?? 0, query.limit ?? 100, { types: parseTypeGlobs(query.types), repo: query.repo }),
  });

  defineRoute(app, {
    method: "GET",
    url: "/events/stream",
    operationId: "streamEvents",
    access: "read",
    summary: "Server-sent events; resume with Last-Event-ID or ?since=, filter with ?types=task.*&repo=",
    tags,
    querystring: S.EventsQuery,
    headers: Type.Object({
      "Last-Event-ID": Type.Optional(
        Type.String({ maxLength: 32, description: "Resume after this event id (sent by EventSource on reconnect); wins over ?since=" }),
      ),
    }),
    stream: {
      type: "text/event-stream",
      description: "`retry: 3000`, then one `id: N` / `event: TYPE` / `data: JSON` frame per event; `: ping` comments keep it open",
    },
    handler: async ({ query, request, reply }) => {
      // Validate everything before the 200 goes out; errors after that cannot be answered.
      const match = compileEventFilter({ types: parseTypeGlobs(query.types), repo: query.repo });
      const resumeFrom = parseLastEventId(request.headers["last-event-id"]) ?? query.since;
      coordinator.assertRunning();
      const owner = request.actor?.name ?? request.ip;
      const open = openPerToken.get(owner) ?? 0;
      if (open >= options.maxStreamsPerToken) {
        throw new CoordError("RATE_LIMITED", `too many open event streams for "${owner}" (limit ${options.maxStreamsPerToken})`, {
          limit: options.maxStreamsPerToken,
          retry_after_seconds: 5,
        });
      }
      openPerToken.set(owner, open + 1);

      reply.hijack();
      let lastSent = 0;
      let live = false;
      // Events committed while the replay runs wait here; past REPLAY_BACKLOG they are dropped
      // and read from the store instead (they are committed, so the next page has them).
      const backlog: CoordEvent[] = [];
      let dropped = false;
      const deliver = (e: CoordEvent) => {
        if (e.id <= lastSent) return; // replayed already
        lastSent = e.id;
        if (match(e)) sse.send(e);
      };
      // Subscribe before reading the backlog, so nothing committed in between is missed.
      const unsubscribe = coordinator.subscribe((events) => {
        if (live) events.forEach(deliver);
        else if (backlog.length + events.length <= REPLAY_BACKLOG) backlog.push(...events);
        else {
          backlog.length = 0;
          dropped = true;
        }
      });
      const ping = setInterval(() => sse.comment("ping"), options.pingIntervalMs);
      const sse = createSseWriter(reply.raw, options.retryMs, () => {
        clearInterval(ping);
        unsubscribe();
        options.streams.delete(sse);
        const left = (openPerToken.get(owner) ?? 1) - 1;
        if (left > 0) openPerToken.set(owner, left);
        else openPerToken.delete(owner);
      });
      sse.authorization = request.headers.authorization;
      sse.sessionId = request.session?.record.id;
      options.streams.add(sse);

      try {
        if (resumeFrom !== undefined) {
          lastSent = resumeFrom;
          const bounds = await coordinator.readEvents(resumeFrom, 0);
          if (bounds.reset) {
            sse.notice("stream.reset", { oldest_id: bounds.oldest_id, requested_id: resumeFrom });
            // An id from another log: everything retained here is new to this client.
            if (resumeFrom > bounds.last_event_id) lastSent = 0;
          }
          // Page by page, each written out before the next is read: memory per stream stays at
          // about one page however long the log is. Until a page comes back empty with nothing
          // dropped meanwhile, the store may hold events the backlog lacks.
          for (;;) {
            dropped = false;
            const page = await coordinator.eventPage(lastSent, REPLAY_PAGE);
            if (sse.closed) return;
            page.forEach(deliver);
            await sse.drain();
            if (page.length === 0 && !dropped) break;
          }
        } else {
          const bounds = await coordinator.readEvents(Number.MAX_SAFE_INTEGER, 0);
          lastSent = Math.max(lastSent, bounds.last_event_id);
        }
      } catch (err) {
        request.log.error({ err }, "event replay failed");
        sse.close();
        return;
      }
      backlog.forEach(deliver);
      backlog.length = 0;
      live = true;
    },
  });
}
