import { idTime } from "../core/ids.js";
import type { CoordEvent, Labels } from "../core/types.js";
import type { Store } from "../store/types.js";

/** One page of the node list read at a time, so the read is bounded whatever the fleet's size. */
const NODE_PAGE = 1000;
/** How many label sets are named in the per-label-set figures; the rest are summed as "other". */
export const TOP_LABEL_SETS = 10;

export interface NodeWorkers {
  node: string;
  busy: number;
  max: number;
}

export interface PendingGroup {
  count: number;
  /** Age of the group's oldest claimable task, seconds. */
  oldest_age_seconds: number;
}

/** What the success measures read from the store: the same on every replica sharing it. */
export interface FleetSnapshot {
  /** Online nodes: claimed tasks (busy) and capacity (max). */
  nodes: NodeWorkers[];
  workers: { busy: number; max: number; utilisation: number };
  /** Claimable tasks by repo, and by label set (top N by count plus "other"; "" is no labels). */
  pending_by_repo: Record<string, PendingGroup>;
  pending_by_labels: Record<string, PendingGroup>;
}

/** `{region: "us", pool: "gpu"}` → `pool=gpu,region=us` (the metric label of a label set). */
export function labelSetName(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function merge(into: Record<string, PendingGroup>, key: string, g: PendingGroup): void {
  const have = into[key];
  into[key] = have ? { count: have.count + g.count, oldest_age_seconds: Math.max(have.oldest_age_seconds, g.oldest_age_seconds) } : { ...g };
}

/** Reads the snapshot from the store (nodes page by page, pending groups in one call). */
async function readSnapshot(store: Store, nowMs: number): Promise<FleetSnapshot> {
  const nodes: NodeWorkers[] = [];
  for (let after: string | undefined; ; ) {
    const page = await store.listNodes({ status: "online", limit: NODE_PAGE, after });
    for (const n of page) nodes.push({ node: n.id, busy: n.claimed_tasks.length, max: n.capacity.max_workers });
    if (page.length < NODE_PAGE) break;
    after = page[page.length - 1]!.id;
  }
  const busy = nodes.reduce((a, n) => a + n.busy, 0);
  const max = nodes.reduce((a, n) => a + n.max, 0);

  const byRepo: Record<string, PendingGroup> = {};
  const byLabels: Record<string, PendingGroup> = {};
  for (const b of await store.pendingBuckets()) {
    const g = { count: b.count, oldest_age_seconds: Math.max(0, (nowMs - (idTime(b.oldest_id) ?? nowMs)) / 1000) };
    merge(byRepo, b.repo, g);
    merge(byLabels, labelSetName(b.labels), g);
  }
  // Bounded cardinality: the N label sets with the most pending tasks, the rest as "other".
  const ranked = Object.entries(byLabels).sort(([a, x], [b, y]) => y.count - x.count || (a < b ? -1 : 1));
  const top: Record<string, PendingGroup> = {};
  ranked.forEach(([name, g], i) => merge(top, i < TOP_LABEL_SETS ? name : "other", g));
  return { nodes, workers: { busy, max, utilisation: max > 0 ? busy / max : 0 }, pending_by_repo: byRepo, pending_by_labels: top };
}

/**
 * Reads fleet snapshots. Each read costs one pass over the online nodes (in pages of 1000) and
 * one over the pending groups, whatever the number of tasks; nothing is cached, so a status
 * right after a claim shows it.
 */
export function createFleetStats(store: Store, now: () => number) {
  return (): Promise<FleetSnapshot> => readSnapshot(store, now());
}

/** Percentiles of the create→claim waits of the last hour. */
export interface ClaimLatency {
  window_seconds: number;
  count: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

/** A create→claim wait carried by a `task.claimed` event of a pending task, if it is one. */
function claimWait(e: CoordEvent): { id: number; at: number; ms: number } | undefined {
  if (e.type !== "task.claimed" || e.data.from !== "pending" || typeof e.data.waited_ms !== "number") return undefined;
  return { id: e.id, at: Date.parse(e.data.ts), ms: e.data.waited_ms };
}

/** Pages of the event log read at most when the window is filled at start (bounded start-up cost). */
const BACKFILL_PAGES = 100;

/**
 * The create→claim waits of the last hour, from the event feed, which carries every replica's
 * claims (shared stores publish them to all): so `status` is right on any replica. `backfill`
 * fills it from the retained log at start, so a restart does not forget the hour; at most `max`
 * samples are kept.
 */
export function createClaimLatencyWindow(windowMs = 3_600_000, max = 100_000) {
  let samples: { id: number; at: number; ms: number }[] = [];
  /** The first event id that came live: the backfill adds only what is older. */
  let firstLive: number | undefined;
  const trim = (nowMs: number) => {
    const from = samples.findIndex((s) => s.at > nowMs - windowMs);
    if (from !== 0) samples = from < 0 ? [] : samples.slice(from);
    if (samples.length > max) samples = samples.slice(samples.length - max);
  };
  return {
    add(events: CoordEvent[]): void {
      for (const e of events) {
        firstLive ??= e.id;
        const w = claimWait(e);
        if (w) samples.push(w);
      }
      if (samples.length > max * 1.1) trim(Date.now());
    },
    /** Reads the log's claims of the last hour (before the first live event) in front of the live ones. */
    async backfill(readEvents: (afterId: number, limit: number) => Promise<CoordEvent[]>, nowMs: number): Promise<void> {
      const older: typeof samples = [];
      let after = 0;
      for (let page = 0; page < BACKFILL_PAGES; page++) {
        const events = await readEvents(after, 1000);
        if (events.length === 0) break;
        for (const e of events) {
          if (firstLive !== undefined && e.id >= firstLive) break;
          const w = claimWait(e);
          if (w && w.at > nowMs - windowMs) older.push(w);
        }
        after = events[events.length - 1]!.id;
        if (firstLive !== undefined && after >= firstLive) break;
      }
      samples = [...older, ...samples];
    },
    summary(nowMs: number): ClaimLatency {
      trim(nowMs);
      const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
      const rank = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! : null);
      return { window_seconds: windowMs / 1000, count: sorted.length, p50_ms: rank(0.5), p99_ms: rank(0.99) };
    },
  };
}
