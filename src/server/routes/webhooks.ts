import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { WebhookService } from "../../webhooks/index.js";
import { defineRoute } from "../route.js";

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const WebhookStatus = Type.Object({
  name: Type.String(),
  url_host: Type.String({ description: "host (and port) of the URL only: the rest may carry a secret" }),
  events: Type.Array(Type.String()),
  repo: Nullable(Type.String()),
  format: Type.Union([Type.Literal("json"), Type.Literal("slack")]),
  signed: Type.Boolean({ description: "a secret is set (X-Coord-Signature-256 is sent); the secret itself is never shown" }),
  position: Type.Integer({ description: "last event id delivered or skipped" }),
  lag: Type.Integer({ description: "events in the log after the position" }),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  last_delivery_at: Nullable(Type.String()),
  delivered: Type.Integer(),
  skipped: Type.Integer({ description: "events given up on after the retry window (or trimmed from the log before delivery)" }),
  lease_owner: Nullable(Type.String({ description: "the replica delivering it now" })),
});

const WebhookTestResult = Type.Object({
  name: Type.String(),
  ok: Type.Boolean(),
  status: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  duration_ms: Type.Integer(),
});

/** `GET /webhooks` and `POST /webhooks/{name}/test` (admin; DESIGN §12). */
export function webhookRoutes(app: FastifyInstance, webhooks: WebhookService): void {
  const tags = ["webhooks"];
  defineRoute(app, {
    method: "GET",
    url: "/webhooks",
    operationId: "listWebhooks",
    access: "admin",
    summary: "Each configured webhook's delivery: position, lag, last status and error, skipped count, lease holder (never the secret or full URL)",
    tags,
    response: Type.Object({ webhooks: Type.Array(WebhookStatus), replica: Type.String({ description: "the replica that answered" }) }),
    handler: async () => ({ webhooks: await webhooks.list(), replica: webhooks.replicaId }),
  });

  defineRoute(app, {
    method: "POST",
    url: "/webhooks/:name/test",
    operationId: "testWebhook",
    access: "admin",
    errors: ["NOT_FOUND"],
    summary: "Send one webhook.test event to a webhook now (once, not through the log) and answer how the receiver answered",
    tags,
    params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }),
    response: WebhookTestResult,
    handler: ({ params }) => webhooks.test(params.name),
  });
}
