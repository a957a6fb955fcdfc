import type { ChalkInstance } from "chalk";
import type { Labels } from "../../core/types.js";

/** `2026-01-20T10:30:00.000Z` → `3m ago` (relative to now), for tables. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return `in ${duration(-s)}`;
  return s < 2 ? "just now" : `${duration(s)} ago`;
}

/** Age for table columns, as `kubectl get` shows it: `45s`, `3m`, `2h 5m`. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : duration(Math.max(0, Math.round((now - t) / 1000)));
}

/** `1 PR`, `2 PRs`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Seconds → `45s`, `3m`, `2h 5m`, `3d 4h`. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

export function labels(l: Labels | undefined): string {
  const entries = Object.entries(l ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "-";
}

export function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/** Status words in colour: green good, yellow in-between, red bad. */
export function status(c: ChalkInstance, s: string): string {
  if (["online", "healthy", "completed", "acked", "ok"].includes(s)) return c.green(s);
  if (["claimed", "pending", "waiting", "degraded", "draining"].includes(s)) return c.yellow(s);
  if (["offline", "failed", "orphaned", "deregistered"].includes(s)) return c.red(s);
  if (s === "unknown") return c.dim(s);
  return c.dim(s);
}

export function priority(c: ChalkInstance, p: string): string {
  if (p === "critical") return c.red.bold(p);
  if (p === "high") return c.yellow(p);
  return p;
}
