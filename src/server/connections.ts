import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import type { ConnectionLimits } from "../config/server-limits.js";
import { CoordError } from "../core/errors.js";
import { sendError, toErrorResponse } from "./errors.js";

export type { ConnectionLimits } from "../config/server-limits.js";

/**
 * Options for `http(s).createServer`: the request line and headers within the headers timeout,
 * the whole request within the body timeout (both counted from its first byte; a request whose
 * body has arrived is no longer timed, so long polls and event streams are not cut). Node checks
 * at `connectionsCheckingInterval`, so that is kept well under the timeouts.
 */
export function serverTimeoutOptions(limits: ConnectionLimits) {
  return {
    headersTimeout: limits.headers_timeout_ms,
    requestTimeout: limits.body_timeout_ms,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headers_timeout_ms / 4))),
  };
}

/** The longest request target answered; longer ones get 414 (the parser refuses past 16 KiB of headers with 431). */
export const MAX_URL_LENGTH = 8192;

/**
 * fastify options for the limits: the socket timeouts (into the `https` options under TLS, else
 * `http`), the idle keep-alive timeout, and parser errors answered in the envelope.
 */
export function connectionFastifyOptions(limits: ConnectionLimits, https: unknown) {
  const timeouts = serverTimeoutOptions(limits);
  return {
    keepAliveTimeout: limits.idle_timeout_ms,
    // fastify sets this on the server after creating it; it must agree with `timeouts`.
    requestTimeout: timeouts.requestTimeout,
    clientErrorHandler,
    ...(https && typeof https === "object" ? { https: { ...timeouts, ...https } } : { http: timeouts }),
  };
}

/**
 * Caps the open connections: `max_connections` in all (Node closes a socket past it as soon as
 * it is accepted), and `max_connections_per_address` from one client address. Behind a trusted
 * proxy the sockets all come from the proxy, which also reuses them for many clients, so there
 * the cap counts the requests in flight (long polls, event streams) per real client address and
 * answers 429 past it.
 */
export function installConnectionLimits(app: FastifyInstance, limits: ConnectionLimits, behindProxy: boolean): void {
  app.addHook("onRequest", (request, reply, done) => {
    if (request.url.length <= MAX_URL_LENGTH) return done();
    reply.header("connection", "close");
    sendError(reply, new CoordError("URI_TOO_LONG", `the URL is too long (at most ${MAX_URL_LENGTH} characters)`, { limit: MAX_URL_LENGTH }));
  });
  const server = app.server;
  server.maxConnections = limits.max_connections;
  const cap = limits.max_connections_per_address;
  if (cap <= 0) return;
  const open = new Map<string, number>();
  const release = (address: string) => {
    const n = (open.get(address) ?? 1) - 1;
    if (n > 0) open.set(address, n);
    else open.delete(address);
  };
  if (!behindProxy) {
    server.on("connection", (socket: Socket) => {
      const address = socket.remoteAddress ?? "";
      const n = open.get(address) ?? 0;
      if (n >= cap) {
        socket.destroy();
        return;
      }
      open.set(address, n + 1);
      socket.once("close", () => release(address));
    });
    return;
  }
  app.addHook("onRequest", async (request, reply) => {
    const address = request.ip;
    const n = open.get(address) ?? 0;
    if (n >= cap) {
      reply.header("connection", "close");
      return sendError(
        reply,
        new CoordError("RATE_LIMITED", `too many open requests from ${address} (limit ${cap})`, { limit: cap, retry_after_seconds: 5 }),
      );
    }
    open.set(address, n + 1);
    reply.raw.once("close", () => release(address));
  });
}

/** The error a failure of the HTTP parser stands for: the envelope for answers fastify never sees. */
function parserError(err: NodeJS.ErrnoException): CoordError {
  switch (err.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new CoordError("REQUEST_TIMEOUT", "the request did not arrive in time; send headers and body promptly");
    case "HPE_HEADER_OVERFLOW":
      return new CoordError("HEADERS_TOO_LARGE", "the request line and headers are too large (at most 16 KiB together)", { limit_bytes: 16_384 });
    default:
      return new CoordError("INVALID_REQUEST", "malformed HTTP request", { reason: err.code ?? "parse error" });
  }
}

/**
 * fastify's `clientErrorHandler`: errors of the HTTP parser (headers too large, a malformed
 * request line, a request that did not arrive within the timeouts) answered in the error
 * envelope, then the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const { status, body } = toErrorResponse(parserError(err));
    const json = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

function statusText(status: number): string {
  return { 400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large" }[status] ?? "Error";
}

/** The soft limit on open files of this process, or undefined when it cannot be told. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m) return m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    // not Linux: ask a shell, which inherits this process's limit
  }
  try {
    const text = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8", timeout: 2000 }).trim();
    return text === "unlimited" ? Infinity : Number(text) || undefined;
  } catch {
    return undefined;
  }
}

/** A warning for `serve` when the open-file limit cannot hold `max_connections` sockets plus the files the process needs. */
export function openFileWarning(maxConnections: number, limit = openFileLimit()): string | undefined {
  const need = maxConnections + 256;
  if (limit === undefined || limit >= need) return undefined;
  return (
    `warning: the open-file limit is ${limit}, below server.max_connections (${maxConnections}) + 256: ` +
    `connections past about ${Math.max(0, limit - 256)} will fail; raise it (ulimit -n ${need}, or LimitNOFILE=${need} in a systemd unit) ` +
    "or lower server.max_connections"
  );
}
