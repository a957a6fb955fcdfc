import { MAX_DEPENDENTS } from "../core/dependencies.js";
import { CoordError, isCoordError } from "../core/errors.js";
import { compileEventFilter, type EventFilter } from "../core/events.js";
import type { Caller } from "../core/identity.js";
import { DEFAULT_RETENTION } from "../core/retention.js";
import { DEFAULT_RETRY_BACKOFF_MS, repoFilter } from "../core/tasks.js";
import type { CoordEvent, Labels, NewEvent, Task } from "../core/types.js";
import type { EventListener } from "../store/types.js";
import { MAX_KNOWN_REGISTRATIONS } from "./fast-claims.js";
import { createClaimLatencyWindow, createFleetStats } from "./fleet-stats.js";
import { createClaimWaiters, makesTaskClaimable, NOT_FOR_THIS_WAITER } from "./claim-waiters.js";
import { createMessageService } from "./message-service.js";
import { createReadiness } from "./readiness.js";
import { createNodeService } from "./node-service.js";
import { createSweeper, type SweepResult } from "./sweeper.js";
import { createTaskService } from "./task-service.js";
import type { ClaimNextInput, CoordinatorContext, CoordinatorOptions, PendingInput } from "./types.js";

/** The most events one `GET /events` looks at, matching or not (see readEvents). */
export const EVENT_SCAN_BUDGET = 10_000;

/** Upper bound of a long poll; the server's schema enforces the same. */
export const MAX_WAIT_SECONDS = 300;

/**
 * The coordination service: business rules over a Store, plus the sweeps and long-poll waiters
 * that make it live. Everything the HTTP layer does goes through here.
 */
export function createCoordinator(options: CoordinatorOptions) {
  const clock = options.clock ?? Date.now;
  /** Listeners to the events this replica commits (see `onCommitted`). */
  const observers = new Set<(event: NewEvent) => void>();
  const readiness = createReadiness(options.store);
  const ctx: CoordinatorContext = {
    store: readiness.store,
    observe: (event) => {
      for (const o of observers) o(event);
    },
    now: () => new Date(clock()),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
    offlineThresholdMs: options.offlineThresholdMs ?? 90_000,
    claimTimeoutMs: options.claimTimeoutMs ?? 300_000,
    defaultPriority: options.defaultPriority ?? "medium",
    defaultMaxAttempts: options.defaultMaxAttempts ?? 3,
    maxDependents: options.maxDependents ?? MAX_DEPENDENTS,
    retryBackoffMs: options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
    retention: {
      tasksMs: options.retention?.tasksMs ?? DEFAULT_RETENTION.tasksMs,
      messagesMs: options.retention?.messagesMs ?? DEFAULT_RETENTION.messagesMs,
      forgetAfterMs: options.retention?.forgetAfterMs ?? DEFAULT_RETENTION.forgetAfterMs,
    },
  };
  const sweepIntervalMs = options.sweepIntervalMs ?? Math.min(1000, ctx.offlineThresholdMs / 4, ctx.claimTimeoutMs / 4);
  const startedAt = Date.now();
  const nodes = createNodeService(ctx);
  const tasks = createTaskService(ctx);
  const messages = createMessageService(ctx);
  const sweep = createSweeper(ctx, tasks, nodes);
  const waiters = createClaimWaiters();
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<SweepResult> | undefined;
  let stopped = false;
  /** Ends the open `pending` long polls (shutdown). */
  const pendingWaits = new Set<() => void>();

  const fleet = createFleetStats(ctx.store, clock);
  const claimLatency = createClaimLatencyWindow();
  const unsubscribeLatency = ctx.store.onEvents((events) => claimLatency.add(events));
  /** Events seen that may have made a task claimable: a long poll that saw none since its first try need not try again. */
  let claimableSeen = 0;
  const unsubscribe = ctx.store.onEvents((events) => {
    const claimable = events.filter(makesTaskClaimable).length;
    claimableSeen += claimable;
    if (claimable > 0 && waiters.size > 0) waiters.wake(claimable);
  });
  /**
   * The labels of a registration, for grouping its long polls: fixed for the life of a
   * registration id (registering again makes a new one), so read once (up to 10,000 kept).
   */
  const waiterLabels = new Map<string, Labels>();
  async function labelsOf(registrationId: string): Promise<Labels> {
    const known = waiterLabels.get(registrationId);
    if (known) return known;
    const node = await ctx.store.getNodeByRegistration(registrationId);
    if (!node) return {};
    if (waiterLabels.size >= MAX_KNOWN_REGISTRATIONS) waiterLabels.clear();
    waiterLabels.set(registrationId, node.labels);
    return node.labels;
  }

  /** One sweep at a time per process; errors are reported, never thrown into the timer. */
  function runSweep(): Promise<SweepResult> {
    sweeping ??= sweep().finally(() => {
      sweeping = undefined;
    });
    return sweeping;
  }

  return {
    context: ctx,
    nodes,
    tasks,
    messages,

    /** Starts the periodic sweeps (offline nodes, expired leases). */
    start(onError: (err: unknown) => void = () => {}): void {
      sweepTimer = setInterval(() => runSweep().catch(onError), sweepIntervalMs);
      sweepTimer.unref();
      // `status` shows the last hour's create→claim latency across a restart, from the log.
      claimLatency.backfill((after, limit) => ctx.store.readEvents(after, limit), clock()).catch(onError);
    },

    /** Long polls waiting now (`POST /tasks/claim` and `GET /tasks/pending` with a wait). */
    get longPolls(): number {
      return waiters.size + pendingWaits.size;
    },

    /** Runs one sweep now (tests with an injected clock call this after moving time). */
    sweep: runSweep,

    /**
     * Claims the best fitting task for the node. With `wait_seconds`, holds on until one
     * appears, the wait ends, or `signal` aborts; `{task: null}` when nothing came.
     */
    async claimNext(input: ClaimNextInput, signal?: AbortSignal, caller?: Caller): Promise<Task | null> {
      const attempt = () => tasks.claimBest(input, caller);
      // Anything committed after this count was taken is announced after it: if the count has
      // not moved when the wait begins, the first try saw every task there is.
      const seen = claimableSeen;
      const task = await attempt();
      const waitMs = Math.min(input.wait_seconds ?? 0, MAX_WAIT_SECONDS) * 1000;
      if (task || waitMs <= 0 || stopped) return task;
      const labels = await labelsOf(input.registration_id);
      const repos = repoFilter(input.repo, input.repos);
      return waiters.wait({
        labels,
        repos,
        waitMs,
        signal,
        fresh: claimableSeen !== seen,
        attempt: async () => {
          try {
            return await tasks.claimForWaiter(input, labels, caller);
          } catch (err) {
            // Cordoned while it waited: this poll gets nothing (task null at its end), others go on.
            if (isCoordError(err) && err.code === "NODE_CORDONED") return NOT_FOR_THIS_WAITER;
            throw err;
          }
        },
        onAbandonedClaim: (t) => {
          // The client left while its claim went through: undo the claim, attempt included.
          tasks.unclaim(t.id, input.registration_id, "claimant disconnected").catch(() => {});
        },
      });
    },

    /**
     * Lists claimable tasks; with `waitMs`, an empty answer waits until a fitting task appears
     * (or the wait ends, or `signal` aborts). Scripts use it to watch a queue without polling.
     */
    async pendingTasks(
      query: PendingInput,
      waitMs = 0,
      signal?: AbortSignal,
    ): Promise<Task[]> {
      const first = await tasks.pending(query);
      if (first.length > 0 || waitMs <= 0 || stopped || signal?.aborted) return first;
      return new Promise((resolve) => {
        let checking = false;
        let recheck = false;
        const done = (result: Task[]) => {
          if (!pendingWaits.delete(end)) return;
          clearTimeout(timer);
          unsubscribe();
          signal?.removeEventListener("abort", end);
          resolve(result);
        };
        const end = () => done([]);
        const check = async (): Promise<void> => {
          if (checking) {
            recheck = true;
            return;
          }
          checking = true;
          try {
            do {
              recheck = false;
              const found = await tasks.pending(query);
              if (found.length > 0) return done(found);
            } while (recheck);
          } catch {
            end();
          } finally {
            checking = false;
          }
        };
        const unsubscribe = ctx.store.onEvents((events) => {
          const repos = repoFilter(query.repo, query.repos);
          if (events.some((e) => makesTaskClaimable(e) && (!repos || repos.includes(e.data.repo as string)))) void check();
        });
        const timer = setTimeout(end, Math.min(waitMs, MAX_WAIT_SECONDS * 1000));
        pendingWaits.add(end);
        signal?.addEventListener("abort", end, { once: true });
        void check();
      });
    },

    /**
     * Reads the log after `since`, filtered, with what a client needs to detect a gap. A filter
     * that matches little could make one read walk the whole log, so a read looks at no more
     * than EVENT_SCAN_BUDGET events: `next` is the `since` of the following read (the last
     * event returned when the page is full, else the last event looked at), and the log has
     * more to look at while `next < last_event_id`.
     */
    async readEvents(since: number, limit: number, filter: EventFilter = {}) {
      const match = compileEventFilter(filter);
      const { oldest_id, last_id } = await ctx.store.eventBounds();
      const out: CoordEvent[] = [];
      let cursor = since;
      let scanned = 0;
      scan: while (out.length < limit && scanned < EVENT_SCAN_BUDGET && cursor < last_id) {
        const batch = await ctx.store.readEvents(cursor, Math.min(500, EVENT_SCAN_BUDGET - scanned));
        if (batch.length === 0) break;
        scanned += batch.length;
        for (const e of batch) {
          cursor = e.id;
          if (match(e)) {
            out.push(e);
            if (out.length === limit) break scan;
          }
        }
      }
      // A gap: events after `since` were trimmed, or `since` is an id this log never gave
      // (the client saw another log, e.g. of a coordinator that restarted on a memory store).
      const reset = (oldest_id > 0 && since < oldest_id - 1) || since > last_id;
      return { events: out, oldest_id, last_event_id: last_id, reset, next: cursor };
    },

    /** One unfiltered page of the log after `afterId` (the event stream's replay). */
    eventPage(afterId: number, limit: number): Promise<CoordEvent[]> {
      return ctx.store.readEvents(afterId, limit);
    },

    /**
     * Events this replica committed (claims, offline nodes), once each, after the commit: what
     * metrics count, so that a sum over several replicas counts each thing once.
     */
    onCommitted(listener: (event: NewEvent) => void): () => void {
      observers.add(listener);
      return () => observers.delete(listener);
    },

    /** Every committed event, in id order. */
    subscribe(listener: EventListener): () => void {
      return ctx.store.onEvents(listener);
    },

    /** Workers busy/total per online node and overall, pending work by repo and label set, read from the store. */
    fleet,

    async status(version: string) {
      const [counts, bounds, snapshot] = await Promise.all([ctx.store.counts(), ctx.store.eventBounds(), fleet()]);
      return {
        version,
        uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
        started_at: new Date(startedAt).toISOString(),
        store: ctx.store.backend,
        nodes: { total: Object.values(counts.nodes).reduce((a, b) => a + b, 0), ...counts.nodes },
        tasks: { total: Object.values(counts.tasks).reduce((a, b) => a + b, 0), ...counts.tasks },
        last_event_id: bounds.last_id,
        // The PRD's success measures: utilisation of the online nodes, create→claim latency.
        workers: snapshot.workers,
        claim_latency: claimLatency.summary(clock()),
      };
    },

    /** Stops sweeps and ends every long poll; the store stays open (its owner closes it). */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(sweepTimer);
      waiters.closeAll();
      for (const end of [...pendingWaits]) end();
      unsubscribe();
      unsubscribeLatency();
      await sweeping?.catch(() => {});
    },

    /** Readiness (GET /ready): the store answers, and did not fail a write lately. */
    async ready() {
      if (stopped) throw new CoordError("UNAVAILABLE", "coordinator is shutting down; retry", { retry_safe: true });
      return readiness.check();
    },

    assertRunning(): void {
      if (stopped) throw new CoordError("UNAVAILABLE", "coordinator is shutting down; retry", { retry_safe: true });
    },
  };
}

export type Coordinator = ReturnType<typeof createCoordinator>;
