import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Registry } from "prom-client";
import type { Coordinator } from "../coordinator/index.js";
import { errorResponses } from "./route.js";
import { createHttpMetrics } from "./http-metrics.js";
import { installSuccessMetrics } from "./success-metrics.js";
import type { WebhookService } from "../webhooks/index.js";

/**
 * Prometheus metrics on a registry of this app's own (several apps can live in one process).
 * Store counts are read at scrape time, so nothing is added to the hot paths but one observe.
 */
export function installMetrics(app: FastifyInstance, coordinator: Coordinator, openStreams: () => number, webhooks?: WebhookService): void {
  const registry = new Registry();
  const observe = createHttpMetrics({
    registry,
    requests: { name: "mcc_http_requests_total", help: "HTTP requests by route and status" },
    duration: {
      name: "mcc_http_request_duration_seconds",
      help: "HTTP request duration (long polls included)",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
    },
  });
  new Gauge({
    name: "mcc_sse_streams",
    help: "Open event streams",
    registers: [registry],
    collect() {
      this.set(openStreams());
    },
  });
  new Gauge({
    name: "mcc_long_polls",
    help: "Long polls waiting on this replica (POST /tasks/claim and GET /tasks/pending with a wait)",
    registers: [registry],
    collect() {
      this.set(coordinator.longPolls);
    },
  });
  const nodes = new Gauge({ name: "mcc_nodes", help: "Nodes by status", labelNames: ["status"] as const, registers: [registry] });
  const tasks = new Gauge({ name: "mcc_tasks", help: "Tasks by status", labelNames: ["status"] as const, registers: [registry] });
  const lastEvent = new Gauge({ name: "mcc_last_event_id", help: "Id of the newest event", registers: [registry] });
  const updateSuccessMetrics = installSuccessMetrics(registry, coordinator);
  const updateWebhookMetrics = webhooks ? installWebhookMetrics(registry, webhooks) : async () => {};

  // A callback hook, not async: this runs on every request and needs no promise.
  app.addHook("onResponse", (request, reply, done) => {
    observe(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  const metricsSchema = {
    operationId: "getMetrics",
    summary: "Prometheus metrics (text exposition format); outside /api/v1",
    tags: ["meta"],
    security: [{ bearerAuth: [] }],
    response: {
      200: { description: "Prometheus text", content: { "text/plain": { schema: { type: "string" } } } },
      ...errorResponses({ access: "read" }),
    },
  };
  // In a plugin so it is registered after @fastify/swagger and lands in the document.
  app.register(async (root) => root.get("/metrics", { schema: metricsSchema, config: { access: "read" } }, async (_request, reply) => {
    const [counts, bounds, fleet] = await Promise.all([coordinator.context.store.counts(), coordinator.context.store.eventBounds(), coordinator.fleet()]);
    for (const [k, v] of Object.entries(counts.nodes)) nodes.set({ status: k }, v);
    for (const [k, v] of Object.entries(counts.tasks)) tasks.set({ status: k }, v);
    lastEvent.set(bounds.last_id);
    updateSuccessMetrics(counts, fleet);
    await updateWebhookMetrics();
    return reply.type(registry.contentType).send(await registry.metrics());
  }));
}

/**
 * `webhook_deliveries_total{webhook,outcome}` (attempts made by this replica: delivered, failed
 * and to be retried, skipped) and `webhook_lag_events{webhook}` (from the store, the same on
 * every replica). Read at scrape time.
 */
function installWebhookMetrics(registry: Registry, webhooks: WebhookService): () => Promise<void> {
  const deliveries = new Counter({
    name: "webhook_deliveries_total",
    help: "Webhook delivery attempts by this replica, by outcome (delivered, failed: to be retried, skipped: given up)",
    labelNames: ["webhook", "outcome"] as const,
    registers: [registry],
  });
  const lag = new Gauge({ name: "webhook_lag_events", help: "Events in the log a webhook has not been given yet", labelNames: ["webhook"] as const, registers: [registry] });
  return async () => {
    deliveries.reset();
    for (const [webhook, counts] of webhooks.outcomes()) {
      for (const [outcome, n] of Object.entries(counts)) deliveries.inc({ webhook, outcome }, n);
    }
    lag.reset();
    for (const s of await webhooks.list()) lag.set({ webhook: s.name }, s.lag);
  };
}
