import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, FastifyServerOptions } from "fastify";
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
    // At the default level most requests (heartbeats, reads) log nothing: build no line for them.
    if (!levelEnabled(request.log, level)) return done();
    request.log[level](
      { method: request.method, url: redactQuery(request.url.slice(0, 200)), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      `${request.method} ${route} ${reply.statusCode}`,
    );
    done();
  });
}

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
type LevelCheck = { isLevelEnabled?: (level: string) => boolean };

/** Whether `logger` writes lines of `level` (pino and the lazy child tell; any other logger is asked to log). */
function levelEnabled(logger: FastifyBaseLogger, level: Level): boolean {
  return (logger as FastifyBaseLogger & LevelCheck).isLevelEnabled?.(level) ?? true;
}

/**
 * A request's logger (it names the request id) that makes its pino child only when a line is
 * written at a level that is on: pino's `child` cost more than a microsecond per request, and
 * at the default level a heartbeat or a read logs nothing.
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;
  private readonly parent: FastifyBaseLogger;
  private readonly bindings: Record<string, unknown>;
  private readonly options: { level?: string };

  constructor(parent: FastifyBaseLogger, bindings: Record<string, unknown>, options: { level?: string }) {
    this.parent = parent;
    this.bindings = bindings;
    this.options = options;
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.options));
  }

  #log(level: Level, args: unknown[]): void {
    if (this.#child === undefined && !this.isLevelEnabled(level)) return;
    const real = this.#real();
    (real[level] as (...a: unknown[]) => void).apply(real, args);
  }

  isLevelEnabled(level: string): boolean {
    if (this.#child !== undefined || this.options.level !== undefined) return levelEnabled(this.#real(), level as Level);
    return levelEnabled(this.parent, level as Level);
  }

  get level(): string {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  fatal(...args: unknown[]): void {
    this.#log("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#log("error", args);
  }
  warn(...args: unknown[]): void {
    this.#log("warn", args);
  }
  info(...args: unknown[]): void {
    this.#log("info", args);
  }
  debug(...args: unknown[]): void {
    this.#log("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#log("trace", args);
  }
  silent(): void {}

  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

/** fastify's `childLoggerFactory` for a logging app: each request's child logger is made on first use (see LazyChildLogger). */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>, options: { level?: string }): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
