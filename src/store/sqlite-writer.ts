import type { Database } from "better-sqlite3";
import { concurrencyGroup, type ConcurrencyGroup } from "../core/concurrency.js";
import { eventSize } from "../core/events.js";
import { labelSignature } from "../core/labels.js";
import { priorityRank } from "../core/priority.js";
import { isBlocked, waitingOn } from "../core/dependencies.js";
import { isClaimable, isFinal } from "../core/tasks.js";
import type { CoordEvent, Labels, NodeRecord, Task } from "../core/types.js";
import type { WriteSet } from "./buffered-tx.js";
import type { BucketDelta, createPendingBuckets, PendingChange, SqliteStatements } from "./sqlite-queries.js";
import type { createUnsettledSet } from "./sqlite-unsettled.js";

/** A task's indexed columns. */
export interface TaskRow {
  status: Task["status"];
  repo: string;
  sig: string;
  rank: number;
  key: string | null;
  leaseMs: number | null;
  /** Its rows in task_deps (`waitingOn`); undefined when not known (then they are rewritten). */
  deps?: readonly string[];
}

export function taskRow(t: Task): TaskRow {
  // The column holds when the sweeper acts on the task: its lease end, or its not_before while
  // waiting (only once no dependency blocks it: until then its last dependency's completion readies it).
  const due = t.status === "waiting" ? (isBlocked(t) ? null : t.not_before) : t.lease_expires_at;
  const leaseMs = due ? Date.parse(due) : null;
  return { status: t.status, repo: t.repo, sig: labelSignature(t.labels), rank: priorityRank(t.priority), key: t.idempotency_key, leaseMs, deps: waitingOn(t) };
}

const sameIds = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((id) => b.includes(id));

/** When a finished task finished (ms), for the retention index; null while it is not finished. */
function doneMs(t: Task): number | null {
  return isFinal(t.status) && t.completed_at ? Date.parse(t.completed_at) : null;
}

/** A node's indexed columns. */
export interface NodeRow {
  registrationId: string | null;
  status: NodeRecord["status"];
  lastSeenMs: number;
}

export function nodeRow(n: NodeRecord): NodeRow {
  return { registrationId: n.registration_id, status: n.status, lastSeenMs: Date.parse(n.last_seen) };
}

export interface SqliteWriterOptions {
  db: Database;
  q: SqliteStatements;
  buckets: ReturnType<typeof createPendingBuckets>;
  unsettled: ReturnType<typeof createUnsettledSet>;
  retention: number;
  /** events.max_bytes: the log's size bound. */
  maxEventBytes: number;
  /** Indexed columns of the rows the current batch read, so writes need not look them up. */
  knownTasks: Map<string, TaskRow>;
  knownNodes: Map<string, NodeRow>;
}

/**
 * The commit of a batch: records, pending-bucket counts and events in one SQLite transaction,
 * writing only the columns that changed; returns the events with their ids.
 */
export function createSqliteWriter({ db, q, buckets, unsettled, retention, maxEventBytes, knownTasks, knownNodes }: SqliteWriterOptions): (ws: WriteSet) => CoordEvent[] {
  /**
   * Net changes of the pending buckets in one commit, by repo and label signature; the tasks that
   * entered or left the claim order; the tasks whose unsettled state the commit may have changed.
   */
  type Deltas = Map<string, BucketDelta> & { changes?: PendingChange[]; touched: Set<string>; checked?: [string, boolean][] };
  function count(deltas: Deltas, repo: string, sig: string, labels: Labels, by: number, task: { rank: number; id: string; group?: ConcurrencyGroup }): void {
    (deltas.changes ??= []).push({ add: by > 0, repo, sig, labels, rank: task.rank, id: task.id, group: task.group });
    const key = `${repo}\u0000${sig}`;
    const d = deltas.get(key);
    if (d) {
      d.by += by;
      if (by > 0) d.labels = labels;
    } else deltas.set(key, { repo, sig, labels, by });
  }

  /** Writes a task, setting only the columns that changed; its bucket changes go to `deltas`. */
  function writeTask(task: Task, deltas: Deltas): void {
    const row = taskRow(task);
    const json = JSON.stringify(task);
    let before = knownTasks.get(task.id);
    if (!before) {
      // Not read by the batch: most likely a new task.
      if (q.insertTask.run(task.id, row.repo, row.status, row.rank, row.sig, row.key, row.leaseMs, doneMs(task), json).changes === 1) {
        if (isClaimable(row.status)) count(deltas, row.repo, row.sig, task.labels, 1, { rank: row.rank, id: task.id, group: concurrencyGroup(task) });
        for (const dep of row.deps!) q.insertDep.run(dep, task.id);
        return;
      }
      before = q.taskIndexRow.get(task.id) as TaskRow;
    }
    writeDeps(task.id, before.deps ?? (q.dependenciesOf.all(task.id) as string[]), row.deps!, deltas.touched);
    // It ended (its dependents may wait), or it was ended and is live again.
    if (isFinal(row.status) || isFinal(before.status)) deltas.touched.add(task.id);
    if (before.repo !== row.repo || before.sig !== row.sig || before.rank !== row.rank || before.key !== row.key) {
      q.putTask.run(task.id, row.repo, row.status, row.rank, row.sig, row.key, row.leaseMs, doneMs(task), json);
    } else if (before.status !== row.status) {
      // Only a change of status finishes a task (completed_at is set with it).
      q.updateTaskStatus.run(row.status, row.leaseMs, doneMs(task), json, task.id);
    } else if (before.leaseMs !== row.leaseMs) {
      q.updateTaskLease.run(row.leaseMs, json, task.id);
    } else {
      q.updateTaskJson.run(json, task.id);
    }
    if (isClaimable(before.status)) count(deltas, before.repo, before.sig, {}, -1, { rank: before.rank, id: task.id });
    if (isClaimable(row.status)) count(deltas, row.repo, row.sig, task.labels, 1, { rank: row.rank, id: task.id, group: concurrencyGroup(task) });
  }

  /** Keeps the task's task_deps rows equal to `deps`, writing only when they change; the dependencies it leaves go to `touched`. */
  function writeDeps(id: string, before: readonly string[], deps: readonly string[], touched: Set<string>): void {
    if (sameIds(before, deps)) return;
    q.deleteDepsOf.run(id);
    for (const dep of deps) q.insertDep.run(dep, id);
    for (const dep of before) if (!deps.includes(dep)) touched.add(dep);
  }

  /** Removes a task; a claimable one leaves its pending bucket, a waiting one the dependency index. */
  function deleteTask(id: string, deltas: Deltas): void {
    const before = knownTasks.get(id) ?? (q.taskIndexRow.get(id) as TaskRow | undefined);
    if (!before) return;
    q.deleteTask.run(id);
    deltas.touched.add(id);
    if (before.deps === undefined || before.deps.length > 0) {
      for (const dep of before.deps ?? (q.dependenciesOf.all(id) as string[])) deltas.touched.add(dep);
      q.deleteDepsOf.run(id);
    }
    if (isClaimable(before.status)) count(deltas, before.repo, before.sig, {}, -1, { rank: before.rank, id });
  }

  function writeNode(node: NodeRecord): void {
    const row = nodeRow(node);
    const json = JSON.stringify(node);
    const before = knownNodes.get(node.id);
    if (!before || before.registrationId !== row.registrationId) {
      q.putNode.run(node.id, row.registrationId, row.status, row.lastSeenMs, json);
    } else if (before.status !== row.status || before.lastSeenMs !== row.lastSeenMs) {
      q.updateNodeState.run(row.status, row.lastSeenMs, json, node.id);
    } else {
      q.updateNodeJson.run(json, node.id);
    }
  }

  const write = db.transaction((ws: WriteSet, deltas: Deltas): CoordEvent[] => {
    for (const n of ws.nodes.values()) writeNode(n);
    for (const t of ws.tasks.values()) writeTask(t, deltas);
    for (const id of ws.deleted.tasks) deleteTask(id, deltas);
    for (const id of ws.deleted.nodes) q.deleteNode.run(id);
    for (const id of ws.deleted.messages) q.deleteMessage.run(id);
    if (deltas.touched.size > 0) deltas.checked = unsettled.check(deltas.touched);
    for (const d of deltas.values()) {
      if (d.by > 0) q.bucketAdd.run(d.repo, d.sig, JSON.stringify(d.labels), d.by);
      else if (d.by < 0) {
        q.bucketSub.run(-d.by, d.repo, d.sig);
        q.bucketDrop.run(d.repo, d.sig);
      }
    }
    for (const m of ws.messages.values()) {
      q.putMessage.run(m.id, m.to_node, m.to, m.status, m.acked_at ? Date.parse(m.acked_at) : null, JSON.stringify(m));
    }
    for (const r of ws.repos.values()) q.putRepo.run(r.name, JSON.stringify(r));
    if (ws.events.length === 0) return [];
    // Read the counter inside the write transaction rather than caching it: the file is the truth.
    let last = q.lastEventId.get() as number;
    const committed = ws.events.map((e) => ({ id: ++last, type: e.type, data: e.data }));
    let bytes = q.eventBytes.get() as number;
    for (const e of committed) {
      const data = JSON.stringify(e.data);
      const size = eventSize(e.id, e.type, data);
      q.insertEvent.run(e.id, e.type, data, size);
      bytes += size;
    }
    q.setLastEventId.run(last);
    q.setEventBytes.run(trimEvents(last, bytes));
    return committed;
  });

  /** Trims the log to the last `retention` events and to `maxEventBytes` (the newest stays); returns the bytes left. */
  function trimEvents(last: number, bytes: number): number {
    const byCount = last - retention;
    let cutoff = byCount;
    let removed = byCount > 0 ? (q.eventBytesUpTo.get(byCount) as number) : 0;
    if (bytes - removed > maxEventBytes) {
      // Oldest first: those under the count bound, then as many more as the size bound needs.
      removed = 0;
      for (const row of q.oldestEventSizes.iterate() as Iterable<{ id: number; size: number }>) {
        if (row.id > byCount && (bytes - removed <= maxEventBytes || row.id >= last)) break;
        removed += row.size;
        cutoff = row.id;
      }
    }
    if (cutoff > 0) q.trimEvents.run(cutoff);
    return bytes - removed;
  }

  /** Writes one batch; the bucket cache and the unsettled set follow only once the commit went through. */
  function commit(ws: WriteSet): CoordEvent[] {
    const deltas: Deltas = Object.assign(new Map(), { touched: new Set<string>() });
    const committed = write(ws, deltas);
    buckets.apply(deltas.changes ?? []);
    unsettled.apply(deltas.checked ?? []);
    return committed;
  }

  return commit;
}
