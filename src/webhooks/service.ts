import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CoordError } from "../core/errors.js";
import type { CoordEvent } from "../core/types.js";
import type { Store } from "../store/types.js";
import { webhookRequest } from "./payload.js";
import { createSender } from "./send.js";
import { DEFAULT_WEBHOOK_TUNING, type WebhookConfig, type WebhookStatus, type WebhookTestResult, type WebhookTuning } from "./types.js";
import { createWebhookWorker, type DeliveryOutcome, type WebhookWorker } from "./worker.js";

export interface WebhookServiceOptions {
  store: Store;
  webhooks: WebhookConfig[];
  tuning?: Partial<WebhookTuning>;
  /** This replica's id, shown as the lease owner; host, pid and a random part by default. */
  replicaId?: string;
  now?: () => number;
  log?: (line: string) => void;
}

/** The host of a URL (a Slack URL carries its secret in the path: never show more). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid URL)";
  }
}

/** Whether two configs of one name deliver the same way (a reload leaves such a worker alone). */
const sameHook = (a: WebhookConfig, b: WebhookConfig) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Every configured webhook's delivery (one worker each, see worker.ts), its status for
 * `GET /webhooks` and the metrics, test deliveries, and reloads. Off the request path: claims
 * and heartbeats never wait for a receiver.
 */
export function createWebhookService(options: WebhookServiceOptions) {
  const { store } = options;
  const tuning = { ...DEFAULT_WEBHOOK_TUNING, ...options.tuning };
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const replicaId = options.replicaId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const sender = createSender(tuning.timeoutMs);
  const workers = new Map<string, WebhookWorker>();
  /** Attempts by webhook and outcome, counted by this replica (the metric). */
  const outcomes = new Map<string, Record<DeliveryOutcome, number>>();
  let hooks = options.webhooks;
  let started = false;

  function startWorker(hook: WebhookConfig): void {
    const worker = createWebhookWorker({
      hook,
      store,
      sender,
      owner: replicaId,
      tuning,
      now,
      log,
      onOutcome(outcome) {
        let counts = outcomes.get(hook.name);
        if (!counts) outcomes.set(hook.name, (counts = { delivered: 0, failed: 0, skipped: 0 }));
        counts[outcome]++;
      },
    });
    workers.set(hook.name, worker);
    worker.start();
  }

  function find(name: string): WebhookConfig {
    const hook = hooks.find((h) => h.name === name);
    if (!hook) throw new CoordError("NOT_FOUND", `no webhook named ${JSON.stringify(name)}`, { known: hooks.map((h) => h.name) });
    return hook;
  }

  return {
    replicaId,
    tuning,
    start(): void {
      if (started) return;
      started = true;
      for (const hook of hooks) startWorker(hook);
    },
    /** Applies a re-read config (SIGHUP): new webhooks start, removed ones stop and forget their position, changed ones restart where they were. */
    async reload(next: WebhookConfig[]): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
      const before = new Map(hooks.map((h) => [h.name, h]));
      const after = new Map(next.map((h) => [h.name, h]));
      const removed = [...before.keys()].filter((n) => !after.has(n));
      const changed = [...after.keys()].filter((n) => before.has(n) && !sameHook(before.get(n)!, after.get(n)!));
      const added = [...after.keys()].filter((n) => !before.has(n));
      hooks = next;
      if (started) {
        await Promise.all(removed.map((n) => workers.get(n)?.stop(true)));
        await Promise.all(changed.map((n) => workers.get(n)?.stop()));
        for (const n of [...removed, ...changed]) workers.delete(n);
        for (const n of [...changed, ...added]) startWorker(after.get(n)!);
      }
      return { added, removed, changed };
    },
    /** Each webhook's delivery as the store has it (so any replica answers the same). */
    async list(): Promise<WebhookStatus[]> {
      const { oldest_id, last_id } = await store.eventBounds();
      return Promise.all(
        hooks.map(async (hook) => {
          const c = await store.getWebhookCursor(hook.name);
          const position = c?.position ?? (hook.from === "oldest" ? Math.max(0, oldest_id - 1) : last_id);
          return {
            name: hook.name,
            url_host: hostOf(hook.url),
            events: hook.events ?? ["*"],
            repo: hook.repo ?? null,
            format: hook.format,
            signed: Boolean(hook.secret),
            position,
            lag: Math.max(0, last_id - position),
            last_status: c?.last_status ?? null,
            last_error: c?.last_error ?? null,
            last_delivery_at: c?.last_delivery_at ?? null,
            delivered: c?.delivered ?? 0,
            skipped: c?.skipped ?? 0,
            lease_owner: c && c.owner && c.lease_until > now() ? c.owner : null,
          };
        }),
      );
    },
    /** Attempts counted by this replica, for `webhook_deliveries_total`. */
    outcomes(): ReadonlyMap<string, Record<DeliveryOutcome, number>> {
      return outcomes;
    },
    /** Sends one `webhook.test` event now, once, from this replica (not through the log or the position). */
    async test(name: string): Promise<WebhookTestResult> {
      const hook = find(name);
      const event = { id: 0, type: "webhook.test", data: { webhook: hook.name, message: "test delivery from multiclaude-coord", ts: new Date(now()).toISOString() } };
      const started = Date.now();
      const res = await sender.send(hook.url, webhookRequest(hook, event as unknown as CoordEvent, `test-${randomBytes(6).toString("hex")}`));
      return { name: hook.name, ok: res.ok, status: res.status, error: res.error, duration_ms: Date.now() - started };
    },
    async stop(): Promise<void> {
      started = false;
      await Promise.all([...workers.values()].map((w) => w.stop()));
      workers.clear();
      await sender.close().catch(() => {});
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
