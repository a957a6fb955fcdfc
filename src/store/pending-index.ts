import { labelSignature, labelsSatisfied } from "../core/labels.js";
import { priorityRank } from "../core/priority.js";
import type { Labels, Task } from "../core/types.js";

interface Bucket {
  repo: string;
  labels: Labels;
  /** Sort keys `<rank><id>`, ascending = claim order. */
  keys: string[];
}

function sortKey(task: Pick<Task, "priority" | "id">): string {
  return `${priorityRank(task.priority)}${task.id}`;
}

function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Claimable tasks grouped by (repo, label requirements). A claim looks only at the buckets whose
 * requirements the node satisfies and takes the best head among them, so it never walks tasks
 * the node could not take. Buckets are few in practice (repos × distinct label sets).
 */
export class PendingIndex {
  private buckets = new Map<string, Bucket>();
  private size = 0;

  get count(): number {
    return this.size;
  }

  add(task: Task): void {
    const id = `${task.repo}\u0000${labelSignature(task.labels)}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = { repo: task.repo, labels: task.labels, keys: [] };
      this.buckets.set(id, bucket);
    }
    const key = sortKey(task);
    const at = lowerBound(bucket.keys, key);
    if (bucket.keys[at] === key) return;
    bucket.keys.splice(at, 0, key);
    this.size++;
  }

  remove(task: Task): void {
    const id = `${task.repo}\u0000${labelSignature(task.labels)}`;
    const bucket = this.buckets.get(id);
    if (!bucket) return;
    const key = sortKey(task);
    const at = lowerBound(bucket.keys, key);
    if (bucket.keys[at] !== key) return;
    bucket.keys.splice(at, 1);
    this.size--;
    if (bucket.keys.length === 0) this.buckets.delete(id);
  }

  /** Each non-empty bucket with its size and oldest task (the smallest id over all ranks). */
  summary(): { repo: string; labels: Labels; count: number; oldest_id: string }[] {
    return [...this.buckets.values()].map((b) => {
      let oldest: string | undefined;
      for (const rank of ["0", "1", "2", "3"]) {
        const key = b.keys[lowerBound(b.keys, rank)];
        if (key?.startsWith(rank) && (oldest === undefined || key.slice(1) < oldest)) oldest = key.slice(1);
      }
      return { repo: b.repo, labels: b.labels, count: b.keys.length, oldest_id: oldest! };
    });
  }

  countRepo(repo: string): number {
    let n = 0;
    for (const b of this.buckets.values()) if (b.repo === repo) n += b.keys.length;
    return n;
  }

  /** Ids of the best `limit` tasks for a node with `labels` (all tasks when omitted), claim order. */
  query(labels: Labels | undefined, repos: readonly string[] | undefined, limit: number): string[] {
    const fitting: Bucket[] = [];
    for (const b of this.buckets.values()) {
      if (repos !== undefined && !repos.includes(b.repo)) continue;
      if (labels && !labelsSatisfied(b.labels, labels)) continue;
      fitting.push(b);
    }
    if (fitting.length === 1) return fitting[0]!.keys.slice(0, limit).map((k) => k.slice(1));
    const heads: string[] = [];
    for (const b of fitting) for (let i = 0; i < Math.min(limit, b.keys.length); i++) heads.push(b.keys[i]!);
    heads.sort();
    return heads.slice(0, limit).map((k) => k.slice(1));
  }
}
