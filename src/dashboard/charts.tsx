import type { LiveEvent } from "./live.js";

export interface Series {
  /** One value per minute, oldest first; null where nothing happened. */
  values: (number | null)[];
}

/**
 * The last hour by minute from the events the page holds: tasks completed, and the median
 * create→claim wait of first claims (`task.claimed` from pending carries `waited_ms`).
 */
export function lastHour(events: LiveEvent[], now: number): { done: Series; latency: Series } {
  const start = now - 60 * 60_000;
  const done: number[] = Array.from({ length: 60 }, () => 0);
  const waits: number[][] = Array.from({ length: 60 }, () => []);
  for (const e of events) {
    const t = Date.parse(e.data.ts);
    if (!(t > start && t <= now)) continue;
    const minute = Math.min(59, Math.floor((t - start) / 60_000));
    if (e.type === "task.completed") done[minute]!++;
    else if (e.type === "task.claimed" && e.data.from === "pending" && typeof e.data.waited_ms === "number") waits[minute]!.push(e.data.waited_ms);
  }
  const median = (xs: number[]) => {
    if (xs.length === 0) return null;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)]!;
  };
  return { done: { values: done }, latency: { values: waits.map(median) } };
}

/** A bar per minute as SVG (no chart library: 60 rectangles and two labels). */
export function BarChart({ series, unit, label }: { series: Series; unit: string; label: string }) {
  const width = 600;
  const height = 120;
  const max = Math.max(1, ...series.values.map((v) => v ?? 0));
  const bar = width / series.values.length;
  const total = series.values.filter((v) => v !== null).length;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} preserveAspectRatio="none">
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        {series.values.map((v, i) =>
          v ? <rect key={i} x={i * bar + 1} y={height - (v / max) * height} width={Math.max(1, bar - 2)} height={(v / max) * height}><title>{`${60 - i} min ago: ${v}${unit}`}</title></rect> : null,
        )}
      </svg>
      <div class="axis-labels">
        <span>60 min ago</span>
        <span>now</span>
      </div>
      <figcaption>
        {label}: max {fmt(max)}
        {unit} {total === 0 && "(nothing in the last hour)"}
      </figcaption>
    </figure>
  );
}

export function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}
