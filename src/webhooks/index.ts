/** Delivery of the event log to webhooks (DESIGN §12). */
export { createWebhookService, type WebhookService, type WebhookServiceOptions } from "./service.js";
export { signBody, webhookRequest } from "./payload.js";
export { slackText } from "./slack.js";
export { DEFAULT_WEBHOOK_TUNING, type WebhookConfig, type WebhookStatus, type WebhookTestResult, type WebhookTuning } from "./types.js";
