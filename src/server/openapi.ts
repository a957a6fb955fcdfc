import type { SwaggerOptions } from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { API_PREFIX, errorResponses } from "./route.js";

/**
 * @fastify/swagger settings: the document is generated from the routes' schemas (DESIGN §14),
 * so a route added anywhere is documented with its operationId, statuses and security.
 */
export function openApiOptions(version: string): SwaggerOptions {
  return {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "multiclaude-coord API",
        version,
        summary: "Coordination of multiclaude agents across machines",
        description:
          "Every answer but the event stream, this document and /metrics is an envelope: " +
          '`{"success": true, "data": ...}` or `{"success": false, "error", "code", "details"}`. ' +
          "Unknown request body fields are ignored and named in a `Warning: 299` header.",
        license: { name: "MIT", identifier: "MIT" },
      },
      servers: [{ url: API_PREFIX, description: "this coordinator" }],
      security: [{ bearerAuth: [] }, { sessionCookie: [] }],
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", description: "a token from server.auth.tokens" },
          sessionCookie: {
            type: "apiKey",
            in: "cookie",
            name: "mcc_session",
            description:
              "the dashboard's session (POST /session), named __Host-mcc_session under TLS; accepted only with Sec-Fetch-Site same-origin or absent; requests that change something also send X-CSRF-Token",
          },
        },
      },
      tags: [
        { name: "meta", description: "health, status, this document" },
        { name: "nodes", description: "registration, heartbeats, nodes" },
        { name: "tasks", description: "creating, claiming and finishing tasks" },
        { name: "state", description: "repo state from heartbeats" },
        { name: "messages", description: "messages between agents" },
        { name: "session", description: "signing the dashboard in and out" },
        { name: "events", description: "the event log and its stream" },
      ],
    },
    transform: ({ schema, url }) => ({ schema, url: url.startsWith(API_PREFIX) ? url.slice(API_PREFIX.length) || "/" : url }),
  };
}

/** Paths outside the API prefix (`/metrics`) say so with a server of their own. */
export function finishDocument(doc: Record<string, unknown>): Record<string, unknown> {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, unknown>>;
  if (paths["/metrics"]) paths["/metrics"] = { ...paths["/metrics"], servers: [{ url: "/", description: "outside /api/v1" }] };
  return doc;
}

/** `GET /openapi.json`: the raw document (not an envelope), for OpenAPI tools. */
export function openApiRoute(app: FastifyInstance): void {
  let doc: Record<string, unknown> | undefined;
  app.get(
    "/openapi.json",
    {
      config: { access: "anyone" },
      schema: {
        operationId: "getOpenApiDocument",
        summary: "This OpenAPI 3.1 document (raw, not in an envelope)",
        tags: ["meta"],
        security: [],
        response: {
          200: { description: "the document", content: { "application/json": { schema: { type: "object", additionalProperties: true } } } },
          ...errorResponses({ access: "anyone" }),
        },
      },
    },
    async (_request, reply) => {
      doc ??= finishDocument(structuredClone(app.swagger() as unknown as Record<string, unknown>));
      return reply.type("application/json").serializer(JSON.stringify).send(doc);
    },
  );
}
