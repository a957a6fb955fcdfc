import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Coordinator } from "../../coordinator/index.js";
import { openApiRoute } from "../openapi.js";
import { defineRoute } from "../route.js";

export function metaRoutes(app: FastifyInstance, coordinator: Coordinator, version: string): void {
  defineRoute(app, {
    method: "GET",
    url: "/health",
    operationId: "getHealth",
    access: "anyone",
    summary: "Liveness probe",
    tags: ["meta"],
    response: Type.Object({ status: Type.Literal("ok") }),
    handler: async () => ({ status: "ok" as const }),
  });

  defineRoute(app, {
    method: "GET",
    url: "/ready",
    operationId: "getReady",
    access: "anyone",
    summary: "Readiness probe: 200 while the store answers, 503 UNAVAILABLE otherwise",
    tags: ["meta"],
    response: Type.Object({ status: Type.Literal("ready"), store: Type.String() }),
    handler: () => coordinator.ready(),
  });

  openApiRoute(app);

  defineRoute(app, {
    method: "GET",
    url: "/status",
    operationId: "getStatus",
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
      workers: Type.Object(
        { busy: Type.Integer(), max: Type.Integer(), utilisation: Type.Number({ description: "busy / max over online nodes, 0..1" }) },
        { description: "claimed tasks (busy) and capacity (max) of the online nodes" },
      ),
      claim_latency: Type.Object(
        {
          window_seconds: Type.Integer(),
          count: Type.Integer(),
          p50_ms: Type.Union([Type.Number(), Type.Null()]),
          p99_ms: Type.Union([Type.Number(), Type.Null()]),
        },
        { description: "create→claim wait of the claims of the last hour (null when there were none)" },
      ),
    }),
    handler: () => coordinator.status(version),
  });
}
