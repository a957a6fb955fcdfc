import type { Static, TSchema } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Access, Actor } from "./auth.js";
import { ErrorEnvelope, ok } from "./schemas.js";

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
  access: Access;
  summary: string;
  tags: string[];
  body?: B;
  /** The route takes no body or an optional one: a missing body counts as `{}`. */
  optionalBody?: boolean;
  querystring?: Q;
  params?: P;
  /** Schema of `data` in the success envelope (also serialises it). */
  response?: TSchema;
  /** Route-specific @fastify/rate-limit settings (stricter than the global ones). */
  rateLimit?: Record<string, unknown>;
  /** Success status, 200 unless said. A handler may also answer `{ status, data }` via `withStatus`. */
  status?: number;
  handler(ctx: RouteContext<Static<B>, Static<Q>, Static<P>>): Promise<unknown>;
}

const STATUS = Symbol("status");

/** Lets a handler pick the success status at run time (201 created vs 200 existing). */
export function withStatus(status: number, data: unknown): unknown {
  return { [STATUS]: status, data };
}

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    actor?: Actor;
  }
}

/** Registers one route: schemas for validation and OpenAPI, the access level, and the success envelope. */
export function defineRoute<B extends TSchema, Q extends TSchema, P extends TSchema>(app: FastifyInstance, spec: RouteSpec<B, Q, P>): void {
  const response: Record<number, TSchema> = { 400: ErrorEnvelope, 401: ErrorEnvelope, 404: ErrorEnvelope };
  if (spec.response) response[200] = response[201] = ok(spec.response);
  app.route({
    method: spec.method,
    url: spec.url,
    config: { access: spec.access, ...(spec.rateLimit ? { rateLimit: spec.rateLimit } : {}) },
    schema: {
      summary: spec.summary,
      tags: spec.tags,
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.querystring ? { querystring: spec.querystring } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.access === "anyone" ? {} : { security: [{ bearerAuth: [] }] }),
      response,
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
      return reply.code(spec.status ?? 200).send({ success: true, data: result });
    },
  });
}
