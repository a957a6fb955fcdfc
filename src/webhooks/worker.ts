import { setTimeout as sleep } from "node:timers/promises";
import { compileEventFilter } from "../core/events.js";
import type { CoordEvent } from "../core/types.js";
import type { Store } from "../store/types.js";
import { createCursorLease } from "./lease.js";
import { webhookRequest } from "./payload.js";
import type { Sender } from "./send.js";
import type { WebhookConfig, WebhookTuning } from "./types.js";

export type DeliveryOutcome = "delivered" | "failed" | "skipped";

export interface WebhookWorkerOptions {
  hook: WebhookConfig;
  store: Store;
  sender: Sender;
  /** This replica's id (the lease owner). */
  owner: string;
  tuning: WebhookTuning;
  now?: () => number;
  /** Counted per attempt: delivered, failed (will be retried) or skipped (gave up). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
  log?: (line: string) => void;
}

/**
 * Delivers one webhook from the event log, in id order, at least once, while this replica holds
 * its lease (lease.ts). One event at a time: the next is sent only after the previous was
 * delivered or given up on, and the position is saved after each, so a crash re-sends at most
 * the event in flight.
 */
export function createWebhookWorker(options: WebhookWorkerOptions) {
  const { hook, store, sender, tuning, owner } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const matches = compileEventFilter({ types: hook.events, repo: hook.repo });
  const lease = createCursorLease({
    store,
    name: hook.name,
    owner,
    leaseMs: tuning.leaseMs,
    now,
    // `from: oldest` is the oldest event still in the log: what was trimmed before the webhook existed is not "skipped".
    startPosition: async () => {
      const { oldest_id, last_id } = await store.eventBounds();
      return hook.from === "oldest" ? Math.max(0, oldest_id - 1) : last_id;
    },
  });
  const stop = new AbortController();
  /** Wakes an idle worker when events are committed (this replica's or, on shared stores, any). */
  let wake: (() => void) | undefined;
  /** Events were committed since the worker last read the log (so an idle wait must not start). */
  let dirty = false;
  const unsubscribe = store.onEvents(() => {
    dirty = true;
    wake?.();
  });

  /** Waits `ms`, or less when woken or stopped; never throws. */
  async function idle(ms: number, wakeable: boolean, signal: AbortSignal): Promise<void> {
    if (wakeable && dirty) return;
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (wakeable) wake = onAbort;
    await sleep(ms, undefined, { signal: ac.signal }).catch(() => {});
    signal.removeEventListener("abort", onAbort);
    if (wake === onAbort) wake = undefined;
  }

  /** Renews the lease every third of its length while held; aborts `held` when it is lost. */
  function keepLease(held: AbortController): () => void {
    const timer = setInterval(() => {
      lease.acquire().then(
        (c) => c || held.abort(),
        () => lease.cursor || held.abort(), // the store failed: hold on while the lease still runs
      );
    }, Math.max(1, Math.floor(tuning.leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Saves, or aborts `held` when the lease was lost. */
  async function save(patch: Parameters<typeof lease.save>[0], held: AbortController): Promise<boolean> {
    const ok = await lease.save(patch).catch(() => false);
    if (!ok) held.abort();
    return ok;
  }

  /** Sends one event until it is delivered or given up on; undefined when the lease was lost meanwhile. */
  async function deliver(event: CoordEvent, held: AbortController): Promise<"delivered" | "skipped" | undefined> {
    const req = webhookRequest(hook, event);
    const firstTry = now();
    for (let delay = tuning.retryBaseMs; ; delay = Math.min(delay * 2, tuning.retryMaxMs)) {
      const res = await sender.send(hook.url, req, held.signal);
      if (held.signal.aborted) return undefined;
      if (res.ok) {
        options.onOutcome?.("delivered");
        const at = new Date(now()).toISOString();
        const saved = await save((c) => ({ position: event.id, last_status: res.status, last_error: null, last_delivery_at: at, delivered: c.delivered + 1 }), held);
        return saved ? "delivered" : undefined;
      }
      if (now() - firstTry + delay > tuning.retryForMs) {
        options.onOutcome?.("skipped");
        log(`webhook ${hook.name}: gave up on event ${event.id} after ${Math.round((now() - firstTry) / 1000)} s: ${res.error}`);
        const error = `event ${event.id} skipped: ${res.error}`;
        const saved = await save((c) => ({ position: event.id, last_status: res.status, last_error: error, skipped: c.skipped + 1 }), held);
        return saved ? "skipped" : undefined;
      }
      options.onOutcome?.("failed");
      if (!(await save({ last_status: res.status, last_error: `event ${event.id}: ${res.error}` }, held))) return undefined;
      await idle(delay, false, held.signal);
      if (held.signal.aborted) return undefined;
    }
  }

  /** Delivers while the lease is held; returns when it is lost or the worker stops. */
  async function deliverWhileHeld(held: AbortController): Promise<void> {
    while (!held.signal.aborted) {
      const cursor = lease.cursor;
      if (!cursor) return;
      const { oldest_id: oldest } = await store.eventBounds();
      if (oldest > cursor.position + 1) {
        // Trimmed from the log (events.retention / max_bytes) before they could be delivered.
        const lost = oldest - cursor.position - 1;
        log(`webhook ${hook.name}: ${lost} event(s) were trimmed from the log before delivery`);
        const error = `${lost} event(s) trimmed from the log before delivery`;
        if (!(await save((c) => ({ position: oldest - 1, skipped: c.skipped + lost, last_error: error }), held))) return;
        continue;
      }
      dirty = false;
      const events = await store.readEvents(cursor.position, tuning.batchSize);
      if (events.length === 0) {
        await idle(tuning.pollMs, true, held.signal);
        continue;
      }
      let passed = cursor.position;
      for (const event of events) {
        if (!matches(event)) {
          passed = event.id;
          continue;
        }
        if (!(await deliver(event, held))) return;
        passed = event.id;
      }
      // Events the filter let by move the position on without a request.
      if (passed > (lease.cursor?.position ?? passed) && !(await save({ position: passed }, held))) return;
    }
  }

  async function run(): Promise<void> {
    while (!stop.signal.aborted) {
      const cursor = await lease.acquire().catch((err: unknown) => {
        log(`webhook ${hook.name}: store unavailable: ${(err as Error).message}`);
        return undefined;
      });
      if (!cursor) {
        // Another replica delivers it (or the store is away): look again within a lease.
        await idle(Math.max(1, Math.floor(tuning.leaseMs / 3)), false, stop.signal);
        continue;
      }
      const held = new AbortController();
      const onStop = () => held.abort();
      stop.signal.addEventListener("abort", onStop, { once: true });
      const stopKeeping = keepLease(held);
      try {
        await deliverWhileHeld(held);
      } catch (err) {
        log(`webhook ${hook.name}: ${(err as Error).message}`);
        await idle(tuning.retryBaseMs, false, stop.signal);
      } finally {
        stopKeeping();
        stop.signal.removeEventListener("abort", onStop);
      }
    }
  }

  let running: Promise<void> | undefined;
  return {
    hook,
    start(): void {
      running ??= run();
    },
    /** Stops delivering and gives the lease up (or, with `forget`, removes the cursor). */
    async stop(forget = false): Promise<void> {
      stop.abort();
      unsubscribe();
      await running;
      await (forget ? lease.forget() : lease.release()).catch(() => {});
    },
  };
}

export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
