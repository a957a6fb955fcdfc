import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from "fastify";
import { CoordError } from "../core/errors.js";

/** Query parameters that would carry a credential; tokens belong in the Authorization header only. */
const TOKEN_PARAMS = ["token", "access_token"] as const;

/**
 * `/api/v1/tasks?repo=x&token=s3cret` → `/api/v1/tasks?repo=…&token=…`: the names stay (they
 * help to read a log), every value goes, so a token sent the wrong way never reaches a log.
 */
export function redactQuery(url: string): string {
  const at = url.indexOf("?");
  if (at < 0) return url;
  const names = url
    .slice(at + 1)
    .split("&")
    .filter(Boolean)
    .map((pair) => `${pair.split("=")[0]!.slice(0, 64)}=…`);
  return `${url.slice(0, at)}?${names.join("&")}`;
}

/**
 * Refuses a token in the query string (DESIGN §14) before authentication looks at the request,
 * so the caller learns the right way instead of a bare 401.
 */
export function refuseQueryTokens(request: FastifyRequest): void {
  const query = request.query as Record<string, unknown> | undefined;
  if (!query || typeof query !== "object") return;
  const found = TOKEN_PARAMS.filter((p) => Object.hasOwn(query, p));
  if (found.length === 0) return;
  throw new CoordError("INVALID_REQUEST", "send the token in the Authorization header (Authorization: Bearer <token>), never in the URL", {
    fields: found.map((p) => ({ field: `query.${p}`, message: "tokens are only read from the Authorization header" })),
  });
}

/** Request-log serializers whose `url` has its query values redacted. */
const serializers = {
  req(request: FastifyRequest) {
    return { method: request.method, url: redactQuery(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
  },
};

/** The app's logger option with the redacting serializers added (a plain `true` becomes options too). */
export function withRedactedUrls(logger: FastifyServerOptions["logger"]): FastifyServerOptions["logger"] {
  if (!logger) return false;
  const base = logger === true ? {} : logger;
  return { ...base, serializers: { ...base.serializers, ...serializers } };
}

/**
 * The level of a request's one log line (`server.log_level`, `serve --log-level`): at `info`
 * (the default) only what changes something or went wrong is logged, so two agents' heartbeats,
 * long polls and reads do not flood stderr; `debug` logs every request.
 */
export function requestLogLevel(method: string, route: string, status: number): "error" | "warn" | "info" | "debug" {
  if (status >= 500) return "error";
  if (status >= 400) return "warn";
  const mutating = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
  // Heartbeats are the liveness signal, every 30s per node: routine, not a change worth a line.
  if (!mutating || route.endsWith("/heartbeat")) return "debug";
  return "info";
}

/** Replaces fastify's two lines per request (incoming, completed) with one line after the answer. */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook("onResponse", (request: FastifyRequest, reply, done) => {
    const route = request.routeOptions.url ?? request.url.split("?")[0]!.slice(0, 200);
    const level = requestLogLevel(request.method, route, reply.statusCode);
    request.log[level](
      { method: request.method, url: redactQuery(request.url.slice(0, 200)), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      `${request.method} ${route} ${reply.statusCode}`,
    );
    done();
  });
}
