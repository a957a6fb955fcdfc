/** One entry of the `webhooks:` config list (DESIGN §12). */
export interface WebhookConfig {
  name: string;
  url: string;
  /** Event type globs (`task.*`, `node.offline`); every event when absent. */
  events?: string[];
  /** Only events of this repo. */
  repo?: string;
  format: "json" | "slack";
  /** Signs the body (X-Coord-Signature-256); never logged or returned. */
  secret?: string;
  /** Where a webhook seen for the first time starts: the end of the log (default) or its oldest retained event. */
  from: "end" | "oldest";
}

/** Timings of delivery; DESIGN §12 values by default, shorter in tests. */
export interface WebhookTuning {
  /** How long a replica's delivery lease lasts without renewal (renewed every third of it). */
  leaseMs: number;
  /** Per request: connect, headers and body together. */
  timeoutMs: number;
  /** First retry delay, doubling up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** An event failing for this long is skipped (and counted). */
  retryForMs: number;
  /** Events read from the log at once. */
  batchSize: number;
  /** How often an idle worker looks at the log without being woken (other replicas' events arrive by the store's feed anyway). */
  pollMs: number;
}

export const DEFAULT_WEBHOOK_TUNING: WebhookTuning = {
  leaseMs: 15_000,
  timeoutMs: 10_000,
  retryBaseMs: 1000,
  retryMaxMs: 10 * 60_000,
  retryForMs: 24 * 3_600_000,
  batchSize: 100,
  pollMs: 5000,
};

/** What `GET /webhooks` shows of one webhook: never the secret or the URL beyond its host. */
export interface WebhookStatus {
  name: string;
  url_host: string;
  events: string[];
  repo: string | null;
  format: "json" | "slack";
  signed: boolean;
  /** Last event id delivered or skipped. */
  position: number;
  /** Events in the log after the position (last event id - position). */
  lag: number;
  last_status: number | null;
  last_error: string | null;
  last_delivery_at: string | null;
  delivered: number;
  skipped: number;
  /** The replica delivering it now (null when no lease is held). */
  lease_owner: string | null;
}

/** The result of one test delivery. */
export interface WebhookTestResult {
  name: string;
  ok: boolean;
  status: number | null;
  error: string | null;
  duration_ms: number;
}
