import { concurrencyGroup, type ConcurrencyGroup } from "../core/concurrency.js";
import { labelSignature, labelsSatisfied } from "../core/labels.js";
import { priorityRank } from "../core/priority.js";
import type { Labels, Task } from "../core/types.js";

/** The tasks of one concurrency group within a bucket, claim order; only its head is in the bucket's keys. */
interface Group {
  group: ConcurrencyGroup;
  keys: string[];
}

interface Bucket {
  repo: string;
  sig: string;
  labels: Labels;
  /** Sort keys `<rank><id>`, ascending = claim order: tasks without a key, and the head of each group. */
  keys: string[];
  /** The group of each head in `keys`. */
  heads: Map<string, Group>;
  /** Groups by `<limit>\0<key>`. */
  groups: Map<string, Group>;
  /** Tasks in the bucket, groups' included. */
  size: number;
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

/** Inserts `key` in order; false if it was there. */
function insertSorted(keys: string[], key: string): boolean {
  const at = lowerBound(keys, key);
  if (keys[at] === key) return false;
  keys.splice(at, 0, key);
  return true;
}

/** Removes `key`; false if it was not there. */
function removeSorted(keys: string[], key: string): boolean {
  const at = lowerBound(keys, key);
  if (keys[at] !== key) return false;
  keys.splice(at, 1);
  return true;
}

/** The oldest id (smallest over all ranks) among sorted keys, or undefined. */
function oldestOf(keys: string[]): string | undefined {
  let oldest: string | undefined;
  for (const rank of ["0", "1", "2", "3"]) {
    const key = keys[lowerBound(keys, rank)];
    if (key?.startsWith(rank) && (oldest === undefined || key.slice(1) < oldest)) oldest = key.slice(1);
  }
  return oldest;
}

/** A query's test of a keyed bucket: whether its group has room now (claims leave out the others). */
export type GroupRoom = (group: ConcurrencyGroup) => boolean;

/**
 * Claimable tasks grouped by (repo, label requirements). A claim looks only at the buckets whose
 * requirements the node satisfies and takes the best head among them, so it never walks tasks
 * the node could not take. Keyed tasks are kept per concurrency group (key and limit) within
 * their bucket, and only each group's head stands in the bucket's claim order: a walk meets a
 * group once, where its best task is, and tests its room then (one count), so a full key costs
 * one skip and keys behind the tasks taken cost nothing, however many there are.
 */
export class PendingIndex {
  private buckets = new Map<string, Bucket>();
  /** The group of each keyed task (a removal names only repo, labels, rank and id). */
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
    const bucketId = `${repo}\u0000${sig}`;
    let bucket = this.buckets.get(bucketId);
    if (!bucket) {
      bucket = { repo, sig, labels, keys: [], heads: new Map(), groups: new Map(), size: 0 };
      this.buckets.set(bucketId, bucket);
    }
    const key = `${rank}${id}`;
    if (!group) {
      if (!insertSorted(bucket.keys, key)) return;
    } else {
      const groupId = `${group.limit}\u0000${group.key}`;
      let g = bucket.groups.get(groupId);
      if (!g) bucket.groups.set(groupId, (g = { group, keys: [] }));
      const head = g.keys[0];
      if (!insertSorted(g.keys, key)) return;
      if (g.keys[0] !== head) this.moveHead(bucket, g, head);
      this.keyed.set(id, groupId);
    }
    bucket.size++;
    this.size++;
  }

  removeEntry(repo: string, sig: string, rank: number, id: string): void {
    const bucketId = `${repo}\u0000${sig}`;
    const bucket = this.buckets.get(bucketId);
    if (!bucket) return;
    const key = `${rank}${id}`;
    const groupId = this.keyed.get(id);
    const g = groupId === undefined ? undefined : bucket.groups.get(groupId);
    if (g) {
      const head = g.keys[0];
      if (!removeSorted(g.keys, key)) return;
      this.keyed.delete(id);
      if (g.keys[0] !== head) this.moveHead(bucket, g, head);
      if (g.keys.length === 0) bucket.groups.delete(groupId!);
    } else if (!removeSorted(bucket.keys, key)) return;
    bucket.size--;
    this.size--;
    if (bucket.size === 0) this.buckets.delete(bucketId);
  }

  /** The group's head changed from `was`: the bucket's order holds the new one. */
  private moveHead(bucket: Bucket, g: Group, was: string | undefined): void {
    if (was !== undefined) {
      removeSorted(bucket.keys, was);
      bucket.heads.delete(was);
    }
    const head = g.keys[0];
    if (head !== undefined) {
      insertSorted(bucket.keys, head);
      bucket.heads.set(head, g);
    }
  }

  /** Each non-empty (repo, label requirements) with its size and oldest task (the smallest id over all ranks). */
  summary(): { repo: string; labels: Labels; count: number; oldest_id: string }[] {
    return [...this.buckets.values()].map((b) => {
      let oldest = oldestOf(b.keys);
      for (const g of b.groups.values()) {
        const o = oldestOf(g.keys);
        if (o !== undefined && (oldest === undefined || o < oldest)) oldest = o;
      }
      return { repo: b.repo, labels: b.labels, count: b.size, oldest_id: oldest! };
    });
  }

  countRepo(repo: string): number {
    let n = 0;
    for (const b of this.buckets.values()) if (b.repo === repo) n += b.size;
    return n;
  }

  /**
   * Ids of the best `limit` tasks for a node with `labels` (all tasks when omitted), claim order;
   * with `room`, only of the groups with room (each group reached is tested once).
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
    // A cursor per fitting bucket (with its group heads), and one per group reached with room.
    const cursors: { keys: string[]; at: number; heads?: Map<string, Group> }[] = [];
    for (const b of this.buckets.values()) {
      if (repos !== undefined && !repos.includes(b.repo)) continue;
      if (labels && !labelsSatisfied(b.labels, labels)) continue;
      cursors.push({ keys: b.keys, at: 0, heads: b.heads });
    }
    if (cursors.length === 1 && cursors[0]!.heads!.size === 0) return cursors[0]!.keys.slice(0, limit);
    // Merged from the buckets' own sorted keys: `limit` picks of the smallest next key, rather
    // than copying `limit` keys of every bucket and sorting them all (a claim takes one).
    const out: string[] = [];
    while (out.length < limit) {
      let pick: (typeof cursors)[number] | undefined;
      let best: string | undefined;
      for (const c of cursors) {
        const key = c.keys[c.at];
        if (key !== undefined && (best === undefined || key < best)) {
          pick = c;
          best = key;
        }
      }
      if (!pick) break;
      pick.at++;
      const g = pick.heads?.get(best!);
      // A group's head: its tasks join the merge from here, if it has room.
      if (g) {
        if (!room || room(g.group)) cursors.push({ keys: g.keys, at: 0 });
      } else out.push(best!);
    }
    return out;
  }
}
