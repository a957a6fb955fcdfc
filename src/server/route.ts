import { Type, type Static, type TSchema } from "@sinclair/typebox";
import type { RateLimitPluginOptions } from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_STATUS, type ErrorCode } from "../core/errors.js";
import type { Access, Actor } from "./auth.js";
import { ok } from "./schemas.js";

export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  actor: Actor | undefined;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<B extends TSchema, Q extends TSchema, P extends TSchema> {
  method: "GET" | "POST" | "DELETE";
  url: string;
  /** Unique name of the operation in the OpenAPI document (client generators name methods after it). */
  operationId: string;
  access: Access;
  summary: string;
  tags: string[];
  body?: B;
  /** The route takes no body or an optional one: a missing body counts as `{}`. */
  optionalBody?: boolean;
  querystring?: Q;
  params?: P;
  /** Request headers the route reads (documented; validated like the other parts). */
  headers?: TSchema;
  /** Schema of `data` in the success envelope (also serialises it). */
  response?: TSchema;
  /** The route answers a stream of this media type instead of an envelope (SSE). */
  stream?: { type: string; description: string };
  /**
   * The error codes this route can answer beyond the ones every route of its kind can (see
   * `commonErrors`). The OpenAPI document declares a status for each, and the response
   * conformance test fails on any status a route answers that is not declared here: when a
   * route learns a new refusal, add its code here.
   */
  errors?: ErrorCode[];
  /** The body is a batch (`{<batch>: [...]}`): a validation error names the first bad item (`details.index`). */
  batch?: string;
  /** Largest body this route takes, when not the app's BODY_LIMIT. */
  bodyLimit?: number;
  /** Route-specific @fastify/rate-limit settings (stricter than the global ones; see installRateLimit). */
  rateLimit?: RateLimitPluginOptions;
  /** Success status, 200 unless said; a list when a handler picks one at run time via `withStatus` (the first is the usual one). */
  status?: number | number[];
  handler(ctx: RouteContext<Static<B>, Static<Q>, Static<P>>): Promise<unknown>;
}

/** Where the API lives (DESIGN §5); the OpenAPI document's paths are relative to it. */
export const API_PREFIX = "/api/v1";

const STATUS = Symbol("status");

/** Lets a handler pick the success status at run time (201 created vs 200 existing). */
export function withStatus(status: number, data: unknown): unknown {
  return { [STATUS]: status, data };
}

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /** The body is a batch of items in this list field: a refusal names the first bad one. */
    batch?: string;
    /** Rate limits of this route's own, instead of the shared ones (rate-limit.ts). */
    ownRateLimit?: RateLimitPluginOptions;
  }
  interface FastifyRequest {
    actor?: Actor;
  }
}

/**
 * What any route can answer, by what it is: every request may be malformed (400), throttled
 * (429), refused by the HTTP layer (408 too slow, 414 URL too long, 431 headers too large) or
 * arrive while the coordinator shuts down or its store is gone (503); a route with a token may
 * be refused it (401), one above `read` may find the token's role too low (403), one with a
 * body may get one too large (413) or not JSON (415). A request that changes something and
 * comes with the dashboard's session cookie may lack its CSRF token (403).
 */
export function commonErrors(spec: { access: Access; body?: unknown; method?: string }): ErrorCode[] {
  const codes: ErrorCode[] = ["INVALID_REQUEST", "REQUEST_TIMEOUT", "URI_TOO_LONG", "HEADERS_TOO_LARGE", "RATE_LIMITED", "UNAVAILABLE"];
  if (spec.access !== "anyone") codes.push("UNAUTHORIZED");
  if (spec.access === "node" || spec.access === "admin") codes.push("FORBIDDEN");
  if (spec.body) codes.push("PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE");
  if (spec.method !== undefined && spec.method !== "GET") codes.push("CSRF_TOKEN_INVALID");
  return codes;
}

/** The error envelope with `code` narrowed to the codes a status of a route can carry. */
function errorResponse(codes: ErrorCode[]) {
  return Type.Object(
    {
      success: Type.Literal(false),
      error: Type.String({ description: "for people" }),
      code: Type.Unsafe<ErrorCode>({ type: "string", enum: codes, description: "for programs" }),
      details: Type.Record(Type.String(), Type.Unknown()),
    },
    { description: codes.join(", ") },
  );
}

/** One error envelope per status a route can answer (its kind's common codes plus `errors`). */
export function errorResponses(spec: { access: Access; body?: unknown; errors?: ErrorCode[]; method?: string }): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...commonErrors(spec), ...(spec.errors ?? [])])) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) out[status] = errorResponse(codes);
  return out;
}

/** Response schemas by status: the success envelope(s), or the stream, and the error envelopes. */
function responses(spec: RouteSpec<TSchema, TSchema, TSchema>): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const status of ([] as number[]).concat(spec.status ?? 200)) {
    if (spec.stream) out[status] = { description: spec.stream.description, content: { [spec.stream.type]: { schema: Type.String() } } };
    else out[status] = { ...ok(spec.response ?? Type.Null()), description: status === 201 ? "created" : "ok" };
  }
  return { ...out, ...errorResponses(spec) };
}

/** Registers one route: schemas for validation and OpenAPI, the access level, and the success envelope. */
export function defineRoute<B extends TSchema, Q extends TSchema, P extends TSchema>(app: FastifyInstance, spec: RouteSpec<B, Q, P>): void {
  const defaultStatus = ([] as number[]).concat(spec.status ?? 200)[0]!;
  app.route({
    method: spec.method,
    url: spec.url,
    config: { access: spec.access, ...(spec.batch ? { batch: spec.batch } : {}), ...(spec.rateLimit ? { ownRateLimit: spec.rateLimit } : {}) },
    ...(spec.bodyLimit ? { bodyLimit: spec.bodyLimit } : {}),
    schema: {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: spec.tags,
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.querystring ? { querystring: spec.querystring } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.headers ? { headers: spec.headers } : {}),
      security: spec.access === "anyone" ? [] : [{ bearerAuth: [] }, { sessionCookie: [] }],
      response: responses(spec as unknown as RouteSpec<TSchema, TSchema, TSchema>),
    },
    preValidation: spec.optionalBody
      ? async (request) => {
          if (request.body === undefined || request.body === null) request.body = {};
        }
      : undefined,
    handler: async (request, reply) => {
      const result = await spec.handler({
        body: request.body as Static<B>,
        query: request.query as Static<Q>,
        params: request.params as Static<P>,
        actor: request.actor,
        request,
        reply,
      });
      if (reply.sent) return reply;
      if (result && typeof result === "object" && STATUS in result) {
        const r = result as { [STATUS]: number; data: unknown };
        return reply.code(r[STATUS]).send({ success: true, data: r.data });
      }
      return reply.code(defaultStatus).send({ success: true, data: result });
    },
  });
}
