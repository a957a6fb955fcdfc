import { concurrencyGroup, type ConcurrencyGroup } from "../core/concurrency.js";
import { labelSignature, labelsSatisfied } from "../core/labels.js";
import { priorityRank } from "../core/priority.js";
import type { Labels, Task } from "../core/types.js";

interface Bucket {
  repo: string;
  sig: string;
  labels: Labels;
  /** The concurrency group of every task in it (undefined: tasks without a key). */
  group?: ConcurrencyGroup;
  /** Sort keys `<rank><id>`, ascending = claim order. */
  keys: string[];
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

/** A query's test of a keyed bucket: whether its group has room now (claims leave out the others). */
export type GroupRoom = (group: ConcurrencyGroup) => boolean;

/**
 * Claimable tasks grouped by (repo, label requirements), and keyed tasks further by concurrency
 * group (key and limit). A claim looks only at the buckets whose requirements the node satisfies
 * and takes the best head among them, so it never walks tasks the node could not take; it leaves
 * out the bucket of a full key whole, however many tasks it holds. Buckets are few in practice
 * (repos × distinct label sets × keys with claimable tasks).
 */
export class PendingIndex {
  private buckets = new Map<string, Bucket>();
  /** The bucket of each keyed task (a removal names only repo, labels, rank and id). */
  private keyed = new Map<string, string>();
  private size = 0;

  get count(): number {
    return this.size;
  }

  add(task: Task): void {
    this.addEntry(task.repo, labelSignature(task.labels), task.labels, priorityRank(task.priority), task.id, concurrencyGroup(task));
  }

  remove(task: Task): void {
    this.removeEntry(task.repo, labelSignature(task.labels), priorityRank(task.priority), task.id);
  }

  /** Adds a task by its indexed parts (`sig` is `labelSignature(labels)`, `rank` its priority rank). */
  addEntry(repo: string, sig: string, labels: Labels, rank: number, id: string, group?: ConcurrencyGroup): void {
    const bucketId = group ? `${repo}\u0000${sig}\u0000${group.limit}\u0000${group.key}` : `${repo}\u0000${sig}`;
    let bucket = this.buckets.get(bucketId);
    if (!bucket) {
      bucket = { repo, sig, labels, group, keys: [] };
      this.buckets.set(bucketId, bucket);
    }
    const key = `${rank}${id}`;
    const at = lowerBound(bucket.keys, key);
    if (bucket.keys[at] === key) return;
    bucket.keys.splice(at, 0, key);
    if (group) this.keyed.set(id, bucketId);
    this.size++;
  }

  removeEntry(repo: string, sig: string, rank: number, id: string): void {
    const bucketId = this.keyed.get(id) ?? `${repo}\u0000${sig}`;
    this.keyed.delete(id);
    const bucket = this.buckets.get(bucketId);
    if (!bucket) return;
    const key = `${rank}${id}`;
    const at = lowerBound(bucket.keys, key);
    if (bucket.keys[at] !== key) return;
    bucket.keys.splice(at, 1);
    this.size--;
    if (bucket.keys.length === 0) this.buckets.delete(bucketId);
  }

  /** Each non-empty (repo, label requirements) with its size and oldest task (the smallest id over all ranks), groups together. */
  summary(): { repo: string; labels: Labels; count: number; oldest_id: string }[] {
    const out = new Map<string, { repo: string; labels: Labels; count: number; oldest_id: string }>();
    for (const b of this.buckets.values()) {
      let oldest: string | undefined;
      for (const rank of ["0", "1", "2", "3"]) {
        const key = b.keys[lowerBound(b.keys, rank)];
        if (key?.startsWith(rank) && (oldest === undefined || key.slice(1) < oldest)) oldest = key.slice(1);
      }
      const id = `${b.repo}\u0000${b.sig}`;
      const seen = out.get(id);
      if (!seen) out.set(id, { repo: b.repo, labels: b.labels, count: b.keys.length, oldest_id: oldest! });
      else {
        seen.count += b.keys.length;
        if (oldest! < seen.oldest_id) seen.oldest_id = oldest!;
      }
    }
    return [...out.values()];
  }

  countRepo(repo: string): number {
    let n = 0;
    for (const b of this.buckets.values()) if (b.repo === repo) n += b.keys.length;
    return n;
  }

  /**
   * Ids of the best `limit` tasks for a node with `labels` (all tasks when omitted), claim order;
   * with `room`, only of the keyed buckets whose group has room.
   */
  query(labels: Labels | undefined, repos: readonly string[] | undefined, limit: number, room?: GroupRoom): string[] {
    return this.heads(labels, repos, limit, room).map((k) => k.slice(1));
  }

  /** Like `query`, with each task's priority rank: `{rank, id}`, claim order. */
  queryHeads(labels: Labels | undefined, repos: readonly string[] | undefined, limit: number, room?: GroupRoom): { rank: number; id: string }[] {
    return this.heads(labels, repos, limit, room).map((k) => ({ rank: Number(k[0]), id: k.slice(1) }));
  }

  /** The best `limit` sort keys among the buckets whose requirements `labels` satisfy. */
  private heads(labels: Labels | undefined, repos: readonly string[] | undefined, limit: number, room?: GroupRoom): string[] {
    const fitting: Bucket[] = [];
    for (const b of this.buckets.values()) {
      if (repos !== undefined && !repos.includes(b.repo)) continue;
      if (labels && !labelsSatisfied(b.labels, labels)) continue;
      if (room && b.group && !room(b.group)) continue;
      fitting.push(b);
    }
    if (fitting.length === 1) return fitting[0]!.keys.slice(0, limit);
    // Merged from the buckets' own sorted keys: `limit` picks of the smallest next key, rather
    // than copying `limit` keys of every bucket and sorting them all (a claim takes one).
    const next = new Array<number>(fitting.length).fill(0);
    const out: string[] = [];
    while (out.length < limit) {
      let pick = -1;
      let best: string | undefined;
      for (let i = 0; i < fitting.length; i++) {
        const key = fitting[i]!.keys[next[i]!];
        if (key !== undefined && (best === undefined || key < best)) {
          pick = i;
          best = key;
        }
      }
      if (pick < 0) break;
      out.push(best!);
      next[pick]!++;
    }
    return out;
  }
}
