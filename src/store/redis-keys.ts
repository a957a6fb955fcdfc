import { createHash } from "node:crypto";
import { concurrencyGroup, type ConcurrencyGroup } from "../core/concurrency.js";
import { priorityRank } from "../core/priority.js";
import { isBlocked, waitingOn } from "../core/dependencies.js";
import { isClaimable, isFinal } from "../core/tasks.js";
import type { Labels, Message, NodeRecord, Task } from "../core/types.js";

/**
 * The Redis key layout. Every record is a hash `{v: version, j: JSON, x: footprint}` where the
 * footprint lists the index entries the record occupies. The commit script removes a record's
 * old footprint and adds its new one, so index upkeep lives in one generic Lua loop and all the
 * knowledge of which index holds what stays here, in TypeScript.
 *
 * Footprint entries (all keys already prefixed):
 *   ["z", zset, score, member]                 sorted-set member
 *   ["z", zset, score, member, set, setMember] ...and keep `setMember` in `set` while zset is non-empty
 *   ["s", set, member]                         set member
 *   ["k", key, value]                          string key → value (removed only while it still holds value)
 *   ["h", hash, field]                         field of a versioned hash: every change of its fields
 *                                              sets its "v" to a fresh number (deps-seq), and it is
 *                                              removed when only "v" is left, so a read of it can be
 *                                              a commit condition like a record's version
 *   ["h", hash, field, set, setMember]         ...and remove `setMember` from `set` when the hash goes
 *   ["e", set, member, key]                    set member, added only if `key` exists when written
 *   ["g", group, score, member, bucket, set, bucketDescriptor, groupDescriptor]
 *                                              member of a concurrency group's sorted set, whose head
 *                                              stands in `bucket` as `<head id>\0<groupDescriptor>`
 *                                              (kept under gheads; see bucketOf); `bucketDescriptor`
 *                                              stays in `set` while `bucket` is non-empty
 */
export type FootprintEntry = [kind: "z" | "s" | "k" | "h" | "e" | "g", key: string, ...rest: string[]];

/** Every key of one deployment, under `prefix`. */
export function createRedisKeys(prefix: string) {
  const P = prefix;
  return {
    prefix: P,
    node: (id: string) => `${P}node:${id}`,
    task: (id: string) => `${P}task:${id}`,
    message: (id: string) => `${P}msg:${id}`,
    repo: (name: string) => `${P}repo:${name}`,
    registration: (reg: string) => `${P}reg:${reg}`,
    idempotency: (key: string) => `${P}idem:${key}`,
    /** All node ids, and node ids by status. */
    nodes: `${P}nodes`,
    nodesByStatus: (status: string) => `${P}nodes:s:${status}`,
    /** Online nodes scored by last heartbeat (ms). */
    online: `${P}online`,
    /** Task ids at score 0, so lexicographic order = creation order. */
    tasks: `${P}tasks`,
    tasksByStatus: (status: string) => `${P}tasks:s:${status}`,
    tasksByRepo: (repo: string) => `${P}tasks:r:${repo}`,
    /** Claimed task ids scored by lease end (ms). */
    leases: `${P}leases`,
    /** Ids of the claimed tasks of one concurrency key (DESIGN §11); its SCARD is a commit condition of claims. */
    claimedByKey: (key: string) => `${P}claimed:k:${key}`,
    /** Waiting task ids scored by not_before (ms), once no dependency blocks them. */
    waiting: `${P}waiting`,
    /** The waiting tasks a task blocks (dependency → dependents): a versioned hash, field per dependent ("h" footprint). */
    dependents: (id: string) => `${P}deps:${id}`,
    /**
     * Ended tasks whose dependents hash still exists: dependents yet to be settled (the sweep's
     * list). Joined by the ended task's "e" entry, left by the "h" entry that empties the hash.
     */
    unsettled: `${P}unsettled`,
    /** Ids of claimable tasks, all and per repo (for counts). */
    pending: `${P}pending`,
    pendingByRepo: (repo: string) => `${P}pending:r:${repo}`,
    /** The set of non-empty pending buckets; each member is a bucket descriptor (see bucketOf). */
    buckets: `${P}pbuckets`,
    bucket: (descriptor: string) => `${P}pq:${createHash("sha1").update(descriptor, "utf8").digest("hex")}`,
    /** The claimable tasks of one concurrency group within a bucket (descriptor from bucketOf with the group). */
    group: (descriptor: string) => `${P}pg:${createHash("sha1").update(descriptor, "utf8").digest("hex")}`,
    /** Group key → the entry of its head in its bucket; and per bucket descriptor, its grouped tasks less their heads (for counts). */
    groupHeads: `${P}gheads`,
    groupTails: `${P}gtails`,
    messages: `${P}msgs`,
    messagesByNode: (node: string) => `${P}msgs:n:${node}`,
    pendingMessages: (node: string) => `${P}msgs:p:${node}`,
    /** Retention: finished tasks by completed_at, acked messages by acked_at, nodes not online by last_seen (ms). */
    finished: `${P}done`,
    acked: `${P}msgs:acked`,
    idle: `${P}idle`,
    /** A webhook's cursor (DESIGN §12): hash {v: version, j: JSON}. */
    webhook: (name: string) => `${P}webhook:${name}`,
    /** Dashboard sessions (DESIGN §13): one string key each, and sorted sets of ids by expiry, all and per token. */
    session: (id: string) => `${P}sess:${id}`,
    sessions: `${P}sessions`,
    sessionsOfToken: (tokenKey: string) => `${P}sessions:t:${tokenKey}`,
    events: `${P}events`,
    eventCounter: `${P}event-id`,
    channel: `${P}events`,
  };
}

export type RedisKeys = ReturnType<typeof createRedisKeys>;

/**
 * `[repo, labels with sorted keys]` as JSON: one pending bucket per distinct (repo,
 * requirements). A keyed task is in the sorted set of its concurrency group,
 * `[repo, labels, limit, key]`, and only the group's best task stands in the bucket, as
 * `<id>\0<group descriptor>`: a claim walking the bucket meets a group once, at its head, and
 * passes over it after one SCARD when the key is full, so keys cost only where a claim looks.
 * Older layouts may still hold keyed tasks in a bucket itself (layout ≤ 2) or a group's own
 * bucket listed in pbuckets (layout 3): claims check those too.
 */
export function bucketOf(repo: string, labels: Labels, group?: ConcurrencyGroup): string {
  const sorted: Labels = {};
  for (const k of Object.keys(labels).sort()) sorted[k] = labels[k]!;
  return JSON.stringify(group ? [repo, sorted, group.limit, group.key] : [repo, sorted]);
}

/**
 * Index entries of a task: listings, its pending bucket while claimable, its lease (and
 * concurrency key) while claimed, its dependencies while waiting, its idempotency key, and once
 * ended, the unsettled set while waiting tasks still depend on it.
 */
export function taskFootprint(k: RedisKeys, t: Task): FootprintEntry[] {
  const fp: FootprintEntry[] = [
    ["z", k.tasks, "0", t.id],
    ["z", k.tasksByStatus(t.status), "0", t.id],
    ["z", k.tasksByRepo(t.repo), "0", t.id],
  ];
  if (isClaimable(t.status)) {
    // Score = priority rank; equal scores sort by member, i.e. by id = age. That is claim order.
    const descriptor = bucketOf(t.repo, t.labels);
    const group = concurrencyGroup(t);
    const score = String(priorityRank(t.priority));
    if (!group) fp.push(["z", k.bucket(descriptor), score, t.id, k.buckets, descriptor]);
    else {
      const gd = bucketOf(t.repo, t.labels, group);
      fp.push(["g", k.group(gd), score, t.id, k.bucket(descriptor), k.buckets, descriptor, gd]);
    }
    fp.push(["s", k.pending, t.id], ["s", k.pendingByRepo(t.repo), t.id]);
  }
  if (t.status === "claimed" && t.lease_expires_at) fp.push(["z", k.leases, String(Date.parse(t.lease_expires_at)), t.id]);
  if (t.status === "claimed" && t.concurrency_key) fp.push(["s", k.claimedByKey(t.concurrency_key), t.id]);
  if (t.status === "waiting" && t.not_before && !isBlocked(t)) fp.push(["z", k.waiting, String(Date.parse(t.not_before)), t.id]);
  for (const dep of waitingOn(t)) fp.push(["h", k.dependents(dep), t.id, k.unsettled, dep]);
  if (isFinal(t.status)) fp.push(["e", k.unsettled, t.id, k.dependents(t.id)]);
  if (t.idempotency_key) fp.push(["k", k.idempotency(t.idempotency_key), t.id]);
  if (isFinal(t.status) && t.completed_at) fp.push(["z", k.finished, String(Date.parse(t.completed_at)), t.id]);
  return fp;
}

/** Index entries of a node: listings by status, heartbeat order while online, its registration. */
export function nodeFootprint(k: RedisKeys, n: NodeRecord): FootprintEntry[] {
  const fp: FootprintEntry[] = [
    ["s", k.nodes, n.id],
    ["s", k.nodesByStatus(n.status), n.id],
  ];
  if (n.status === "online") fp.push(["z", k.online, String(Date.parse(n.last_seen)), n.id]);
  else fp.push(["z", k.idle, String(Date.parse(n.last_seen)), n.id]);
  if (n.registration_id) fp.push(["k", k.registration(n.registration_id), n.id]);
  return fp;
}

/** Index entries of a message: listings, and the recipient's pending queue until acked. */
export function messageFootprint(k: RedisKeys, m: Message): FootprintEntry[] {
  const fp: FootprintEntry[] = [
    ["z", k.messages, "0", m.id],
    ["z", k.messagesByNode(m.to_node), "0", m.id],
  ];
  if (m.status === "pending") fp.push(["z", k.pendingMessages(m.to_node), "0", m.id]);
  if (m.status === "acked" && m.acked_at) fp.push(["z", k.acked, String(Date.parse(m.acked_at)), m.id]);
  return fp;
}
