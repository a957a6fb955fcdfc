/** Events after which a task that was claimed no longer is. */
const CLAIM_ENDS = new Set(["task.completed", "task.failed", "task.released", "task.cancelled", "task.orphaned"]);

/**
 * The most tasks of each concurrency key claimed at once, replaying the log in id order (DESIGN
 * §11). Throws if a task is claimed again before its claim ended (the log would be inconsistent).
 */
export function peakClaimedPerKey(events: { type: string; data: Record<string, unknown> }[]): Record<string, number> {
  const claimed = new Map<string, string>(); // task id → key, while claimed
  const now: Record<string, number> = {};
  const peak: Record<string, number> = {};
  for (const e of events) {
    const id = e.data.task_id as string;
    const key = e.data.concurrency_key as string | undefined;
    if (!key) continue;
    if (e.type === "task.claimed") {
      if (claimed.has(id)) throw new Error(`${id} claimed twice without its claim ending`);
      claimed.set(id, key);
      now[key] = (now[key] ?? 0) + 1;
      peak[key] = Math.max(peak[key] ?? 0, now[key]!);
    } else if (CLAIM_ENDS.has(e.type) && claimed.delete(id)) {
      now[key]!--;
    }
  }
  return peak;
}
