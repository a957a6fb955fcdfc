import { createHmac } from "node:crypto";
import type { CoordEvent } from "../core/types.js";
import { slackText } from "./slack.js";
import type { WebhookConfig } from "./types.js";

/** An event as a webhook receives it: the body and the headers (DESIGN §12). */
export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

/** `sha256=<hex HMAC-SHA256 of body>`, as GitHub signs its webhooks. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** The request for one event (or a test event, whose delivery id is given). */
export function webhookRequest(hook: Pick<WebhookConfig, "format" | "secret">, event: CoordEvent, deliveryId = String(event.id)): WebhookRequest {
  const body = JSON.stringify(hook.format === "slack" ? { text: slackText(event) } : { id: event.id, type: event.type, data: event.data });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "multiclaude-coord-webhooks",
    "x-coord-event": event.type,
    "x-coord-delivery": deliveryId,
  };
  if (hook.secret) headers["x-coord-signature-256"] = signBody(body, hook.secret);
  return { body, headers };
}
