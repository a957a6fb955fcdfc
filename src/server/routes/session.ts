import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CoordError } from "../../core/errors.js";
import type { SessionRecord } from "../../store/types.js";
import { bearerToken, type Actor } from "../auth.js";
import { registerRateLimit, type RateLimitOptions } from "../rate-limit.js";
import { defineRoute } from "../route.js";
import { sessionCookie, type Sessions } from "../session.js";
import type { SseWriter } from "../sse.js";

const Role = Type.Union([Type.Literal("read"), Type.Literal("node"), Type.Literal("admin")]);
const SessionInfo = Type.Object({
  signed_in: Type.Boolean({ description: "false: the request carries no valid session or token (GET /session only)" }),
  name: Type.Union([Type.String(), Type.Null()], { description: "the token's name" }),
  role: Type.Union([Role, Type.Null()]),
  via: Type.Union([Type.Literal("session"), Type.Literal("token"), Type.Literal("none")], {
    description: "what authenticated this request: the session cookie, a bearer token, or nothing (auth is off)",
  }),
  csrf_token: Type.Union([Type.String(), Type.Null()], { description: "send it as X-CSRF-Token on mutating requests made with the cookie" }),
  expires_at: Type.Union([Type.String(), Type.Null()]),
});

function info(actor: Actor, record: SessionRecord | undefined, via: "session" | "token" | "none") {
  return {
    signed_in: true,
    name: actor.name,
    role: actor.role,
    via,
    csrf_token: record?.csrf ?? null,
    expires_at: record ? new Date(record.expires_ms).toISOString() : null,
  };
}

/** Secure under TLS (or behind a TLS proxy the server trusts). */
const setCookie = (request: FastifyRequest, reply: FastifyReply, value: string, maxAge: number) =>
  reply.header("set-cookie", sessionCookie(value, request.protocol === "https", maxAge));

/** Sign-in and sign-out of the dashboard (DESIGN §13); see docs/dashboard.md for the design. */
export function sessionRoutes(app: FastifyInstance, sessions: Sessions, streams: Set<SseWriter>, limits: RateLimitOptions): void {
  const tags = ["session"];
  defineRoute(app, {
    method: "POST",
    url: "/session",
    operationId: "createSession",
    access: "read",
    summary: "Trade the bearer token of the Authorization header for a session cookie (HttpOnly, SameSite=Strict, 12 h)",
    tags,
    status: 201,
    rateLimit: registerRateLimit(limits),
    response: SessionInfo,
    errors: ["RATE_LIMITED"],
    handler: async ({ request, reply, actor }) => {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) {
        // Auth off: there is nothing to trade, and every request is let in anyway.
        if (!app.coordAuth.required) return info(actor!, undefined, "none");
        throw new CoordError("UNAUTHORIZED", "sign in with the token in the Authorization header (Bearer <token>), not with a session");
      }
      const { cookie, record } = await sessions.create(token, request);
      setCookie(request, reply, cookie, Math.floor(sessions.lifetimeMs / 1000));
      return info(actor!, record, "session");
    },
  });

  defineRoute(app, {
    method: "GET",
    url: "/session",
    operationId: "getSession",
    access: "anyone",
    summary: "Who this request is signed in as (signed_in false when nobody), and the session's CSRF token (for a page that was reloaded)",
    tags,
    response: SessionInfo,
    handler: async ({ request, actor }) => {
      // Answered with 200 either way, so a page asking whether it is signed in logs no error.
      if (!actor) return { signed_in: false, name: null, role: null, via: "none" as const, csrf_token: null, expires_at: null };
      const via = request.session ? "session" : request.headers.authorization ? "token" : "none";
      return info(actor!, request.session?.record, via);
    },
  });

  defineRoute(app, {
    method: "DELETE",
    url: "/session",
    operationId: "deleteSession",
    access: "anyone",
    summary: "Sign out: ends the session on every replica (with its open event streams) and removes the cookie",
    tags,
    response: Type.Object({ signed_out: Type.Boolean({ description: "false when the request carried no valid session" }) }),
    handler: async ({ request, reply }) => {
      const record = request.session?.record;
      if (record) await sessions.end(record, streams);
      setCookie(request, reply, "", 0);
      return { signed_out: record !== undefined };
    },
  });
}
