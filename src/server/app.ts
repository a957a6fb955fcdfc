import cors from "@fastify/cors";
import swagger from "@fastify/swagger";
import { Ajv } from "ajv";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { CoordError } from "../core/errors.js";
import type { Coordinator } from "../coordinator/index.js";
import { DEFAULT_CONNECTION_LIMITS } from "../config/server-limits.js";
import { createAuth, type Auth, type AuthOptions } from "./auth.js";
import { connectionFastifyOptions, installConnectionLimits, type ConnectionLimits } from "./connections.js";
import { installErrorHandling, sendError } from "./errors.js";
import { dashboardRoutes, defaultDashboardDir } from "./dashboard.js";
import { eventRoutes } from "./routes/events.js";
import { sessionRoutes } from "./routes/session.js";
import { createSessions, type SessionOptions } from "./session.js";
import { messageRoutes } from "./routes/messages.js";
import { metaRoutes } from "./routes/meta.js";
import { nodeRoutes } from "./routes/nodes.js";
import { taskRoutes } from "./routes/tasks.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { createWebhookService, type WebhookService } from "../webhooks/index.js";
import type { SseWriter } from "./sse.js";
import type { AuditLogOptions } from "./audit-log.js";
import { installAudit } from "./audit-hook.js";
import { installMetrics } from "./metrics.js";
import { openApiOptions } from "./openapi.js";
import { API_PREFIX } from "./route.js";
import { createAuthFailureLimiter, installRateLimit, type RateLimitOptions } from "./rate-limit.js";
import { installRequestLog, lazyChildLogger, refuseQueryTokens, withRedactedUrls } from "./request-log.js";
import { ignoringUnknownFields, installUnknownFieldWarnings, strictBodyAjv } from "./unknown-fields.js";

export { API_PREFIX } from "./route.js";
export const BODY_LIMIT = 1024 * 1024;
/** How long requests in flight may take to finish once shutdown begins. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface AppOptions {
  coordinator: Coordinator;
  auth: AuthOptions | Auth;
  version?: string;
  /** fastify/pino logger settings; off unless given. */
  logger?: FastifyServerOptions["logger"];
  /** SSE keepalive comment interval (DESIGN: 15s). */
  ssePingIntervalMs?: number;
  /** Rate limits; off unless given (tests and benchmarks). The object may be changed at run time. */
  rateLimit?: RateLimitOptions;
  /** Audit log file (JSON lines); none unless given. */
  audit?: AuditLogOptions;
  /** Open event streams allowed per token (default 100). */
  maxStreamsPerToken?: number;
  /** Browser origins allowed to call the API (CORS); none unless given. `*` allows any. */
  corsOrigins?: string[];
  /** Socket timeouts and connection caps; DESIGN §10 defaults unless given. */
  connections?: ConnectionLimits;
  /** Webhook delivery (DESIGN §12), shown by GET /webhooks and /metrics; none configured unless given. */
  webhooks?: WebhookService;
  /** Folder of the built dashboard (DESIGN §13); found in dist/ unless given; `false` serves none. */
  dashboardDir?: string | false;
  /** Dashboard session settings (tests shorten them); DESIGN §13 defaults unless given. */
  sessions?: Omit<SessionOptions, "store" | "auth">;
  /** Extra options for fastify (TLS `https`, etc.). */
  fastify?: Partial<FastifyServerOptions> & Record<string, unknown>;
}

declare module "fastify" {
  interface FastifyInstance {
    coordAuth: Auth;
  }
}

/**
 * Bodies are validated strictly (no coercion: `"3"` is not a number), and their unknown fields
 * are ignored with a warning rather than refused (see unknown-fields.ts); query strings are
 * text, so there numbers and booleans are coerced. allErrors: the 400 names every bad field.
 */
function createValidators() {
  const strict = strictBodyAjv();
  const coercing = new Ajv({ allErrors: true, coerceTypes: "array", useDefaults: false, removeAdditional: false, strict: false });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    httpPart === "body" ? ignoringUnknownFields(strict.compile(schema)) : coercing.compile(schema);
}

/**
 * The HTTP app, not yet listening: tests call it with `inject`, or listen on port 0.
 * Closing it ends open event streams and long polls first, so shutdown is prompt.
 */
export function createApp(options: AppOptions): FastifyInstance {
  const { coordinator } = options;
  const auth = "check" in options.auth ? options.auth : createAuth(options.auth);
  const streams = new Set<SseWriter>();
  const limits = options.rateLimit ?? { enabled: false, requests_per_second: 50, burst: 100 };
  const authFailures = createAuthFailureLimiter(limits);
  const connections = options.connections ?? DEFAULT_CONNECTION_LIMITS;
  const sessions = createSessions({ ...options.sessions, store: coordinator.context.store, auth });
  const app = Fastify({
    // Query strings are redacted in request logs: a token sent as ?token= must not be written down.
    logger: withRedactedUrls(options.logger ?? false),
    // One line per request at most, from our own hook (request-log.ts), at a level by its kind.
    logController: new LogController({ disableRequestLogging: true }),
    // Each request's child logger is made only when it writes a line (request-log.ts).
    ...(options.logger ? { childLoggerFactory: lazyChildLogger } : {}),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    // Refusals while closing come from our own hook, in the envelope (see `closing` below).
    return503OnClosing: false,
    // Shutdown: streams and long polls are ended in preClose, requests in flight get their
    // answer, idle keep-alive connections are closed (a forced close would drop answers to
    // changes that were committed).
    forceCloseConnections: "idle",
    // Router errors (bad %-encoding, over-long path parameters) get the envelope too.
    frameworkErrors: (err, _request, reply) => sendError(reply, err),
    ...options.fastify,
    ...connectionFastifyOptions(connections, options.fastify?.https),
  });
  // First, so a refused request costs nothing more.
  installConnectionLimits(app, connections, Boolean(options.fastify?.trustProxy));
  app.decorate("coordAuth", auth);
  app.setValidatorCompiler(createValidators());
  // JSON only: fastify would otherwise accept text/plain bodies as strings (DESIGN: JSON in and out).
  app.removeContentTypeParser("text/plain");
  installErrorHandling(app);
  installUnknownFieldWarnings(app);
  // First, so every route registered after it is in the OpenAPI document.
  app.register(swagger, openApiOptions(options.version ?? "1"));

  let closing = false;
  /** A refused authentication: only failures are throttled, so a client sending bad tokens does not lock out good ones from the same address (behind a NAT or proxy). */
  const refuse = (request: FastifyRequest, reply: FastifyReply, err: unknown): void => {
    if ((err as { code?: string }).code === "UNAUTHORIZED") {
      try {
        authFailures.check(request.ip);
      } catch (limited) {
        sendError(reply, limited);
        return;
      }
      authFailures.failed(request.ip);
    }
    sendError(reply, err);
  };
  // A callback hook, not async: with a bearer token (every node and CLI call) nothing here waits,
  // so the request goes on without a promise or a turn of the microtask queue.
  app.addHook("onRequest", (request, reply, done) => {
    if (closing) {
      // Refused before any work: safe for the client to send again, elsewhere.
      reply.header("connection", "close");
      sendError(reply, new CoordError("UNAVAILABLE", "coordinator is shutting down; retry", { retry_safe: true }));
      return;
    }
    const access = request.routeOptions.config?.access;
    if (!access) return done(); // not-found handler: answered there
    try {
      refuseQueryTokens(request);
      if (!sessions.appliesTo(request)) {
        request.actor = auth.check(request, access);
        return done();
      }
    } catch (err) {
      refuse(request, reply, err);
      return;
    }
    // The dashboard's session cookie: looked up in the store.
    sessions.authenticate(request, access).then(
      (actor) => {
        try {
          request.actor = actor ?? auth.check(request, access);
        } catch (err) {
          refuse(request, reply, err);
          return;
        }
        done();
      },
      (err: unknown) => refuse(request, reply, err),
    );
  });
  if (options.audit) installAudit(app, options.audit);
  if (options.logger) installRequestLog(app);
  const webhooks = options.webhooks ?? createWebhookService({ store: coordinator.context.store, webhooks: [] });
  installMetrics(app, coordinator, () => streams.size, webhooks);
  // A token taken out of the list (rotation) also loses the event streams it opened.
  const stopWatchingTokens = auth.onChange(() => {
    for (const s of streams) if (s.sessionId === undefined && !auth.accepts(s.authorization)) s.close();
  });
  // ...and a session's streams end with it (sign-out on any replica, expiry, token removed).
  const stopWatchingSessions = sessions.watchStreams(streams);

  // Answers given while shutting down close their connection, so keep-alive sockets do not
  // hold the shutdown open; a last deadline closes whatever is left.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });
  app.addHook("preClose", async () => {
    closing = true;
    stopWatchingTokens();
    stopWatchingSessions();
    for (const s of streams) s.close();
    await coordinator.stop();
    setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  });
  if (options.corsOrigins?.length) registerCors(app, options.corsOrigins);


  app.register(
    async (api) => {
      await installRateLimit(api, limits);
      metaRoutes(api, coordinator, options.version ?? "0.0.0");
      nodeRoutes(api, coordinator, limits);
      taskRoutes(api, coordinator);
      messageRoutes(api, coordinator);
      webhookRoutes(api, webhooks);
      sessionRoutes(api, sessions, streams, limits);
      eventRoutes(api, coordinator, {
        pingIntervalMs: options.ssePingIntervalMs ?? 15_000,
        retryMs: 3000,
        streams,
        maxStreamsPerToken: options.maxStreamsPerToken ?? 100,
      });
    },
    { prefix: API_PREFIX },
  );
  if (options.dashboardDir !== false) dashboardRoutes(app, options.dashboardDir ?? defaultDashboardDir());
  return app;
}

/**
 * CORS for browser pages on other origins (DESIGN §14): the listed origins may call the API with
 * a bearer token (no cookies, so no credentials mode), preflight included. Headers a page needs
 * to read (warnings, rate-limit waits) are exposed.
 */
function registerCors(app: FastifyInstance, origins: string[]): void {
  app.register(cors, {
    origin: origins.includes("*") ? "*" : origins,
    methods: ["GET", "POST", "DELETE"],
    allowedHeaders: ["authorization", "content-type", "last-event-id"],
    exposedHeaders: ["warning", "retry-after"],
    maxAge: 600,
  });
}
