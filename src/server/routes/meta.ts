import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Coordinator } from "../../coordinator/index.js";
import { defineRoute } from "../route.js";

export function metaRoutes(app: FastifyInstance, coordinator: Coordinator, version: string): void {
  defineRoute(app, {
    method: "GET",
    url: "/health",
    access: "anyone",
    summary: "Liveness probe",
    tags: ["meta"],
    response: Type.Object({ status: Type.Literal("ok") }),
    handler: async () => ({ status: "ok" as const }),
  });

  // DESIGN: every answer is an envelope, the OpenAPI document included (it is `data`).
  app.get("/openapi.json", { schema: { hide: true }, config: { access: "anyone" } }, async (_request, reply) =>
    reply.send({ success: true, data: app.swagger() }),
  );

  defineRoute(app, {
    method: "GET",
    url: "/status",
    access: "read",
    summary: "Version, uptime, store, node and task counts, last event id",
    tags: ["meta"],
    response: Type.Object({
      version: Type.String(),
      uptime_seconds: Type.Integer(),
      started_at: Type.String(),
      store: Type.String(),
      nodes: Type.Record(Type.String(), Type.Integer()),
      tasks: Type.Record(Type.String(), Type.Integer()),
      last_event_id: Type.Integer(),
    }),
    handler: () => coordinator.status(version),
  });
}
