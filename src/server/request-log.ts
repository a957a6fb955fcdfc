import type { FastifyInstance, FastifyRequest } from "fastify";

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
      { method: request.method, url: request.url.slice(0, 200), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      `${request.method} ${route} ${reply.statusCode}`,
    );
    done();
  });
}
