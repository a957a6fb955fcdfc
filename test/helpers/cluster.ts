/**
 * Shared pieces of the durable-store end-to-end suites (test/e2e/store-*.test.ts): real `serve`
 * processes with a known token, a small HTTP caller that tells network failures from answers,
 * full reads of the log / tasks / nodes, and the consistency checks all three suites apply.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnServe, type ServeProcess } from "./serve-process.js";

export const TOKEN = "e2e-store-token";

/** Every temp folder made here, so `cleanupTemp()` can remove them. */
const temps: string[] = [];

export function tempDir(prefix = "mcc-store-e2e-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

export function cleanupTemp(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A config file with the known token and no rate limit (the suites send bursts on purpose). */
export function writeConfig(dir: string): string {
  const file = join(dir, "coordination.yaml");
  writeFileSync(file, `server:\n  auth:\n    tokens: ["${TOKEN}"]\n  rate_limit:\n    enabled: false\n`);
  return file;
}

/** One real `serve` process on `store`, with a HOME of its own. */
export async function startReplica(store: string): Promise<ServeProcess> {
  const home = tempDir("mcc-store-home-");
  return spawnServe(["--listen", "127.0.0.1:0", "--store", store, "--config", writeConfig(home)], { home });
}

/** `n` replicas on one shared store, started together. */
export async function startCluster(store: string, n: number): Promise<ServeProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startReplica(store)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop("SIGKILL") : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<ServeProcess>).value);
}

export interface Answer {
  status: number;
  body: any;
}

/** A request that got no HTTP answer (refused, reset, cut mid-body, timed out). */
export class NetError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`no answer from ${url}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** Calls `/api/v1{path}` with the known token; an answer of any status resolves, no answer throws NetError. */
export async function api(base: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Answer> {
  const url = `${base}/api/v1${path}`;
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text for the assertion message
    }
    return { status: res.status, body: parsed };
  } catch (err) {
    throw new NetError(url, err);
  }
}

/** Like `api`, but anything other than a 2xx answer fails (for setup and read-back). */
export async function ok(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await api(base, method, path, body);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

export interface Ev {
  id: number;
  type: string;
  data: any;
}

/** The whole retained log through `GET /events`, paged. */
export async function readAllEvents(base: string): Promise<{ events: Ev[]; oldest_id: number; last_event_id: number }> {
  const events: Ev[] = [];
  let since = 0;
  let bounds = { oldest_id: 0, last_event_id: 0 };
  for (;;) {
    const page = await ok(base, "GET", `/events?since=${since}&limit=1000`);
    bounds = { oldest_id: page.oldest_id, last_event_id: page.last_event_id };
    if (page.events.length === 0) break;
    events.push(...page.events);
    since = page.events[page.events.length - 1].id;
  }
  return { events, ...bounds };
}

/** Every task through `GET /tasks`, paged by cursor. */
export async function readAllTasks(base: string): Promise<any[]> {
  const tasks: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await ok(base, "GET", `/tasks?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    tasks.push(...page.tasks);
    cursor = page.next_cursor;
  } while (cursor);
  return tasks;
}

export async function readAllNodes(base: string): Promise<any[]> {
  return (await ok(base, "GET", "/nodes")).nodes;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per task, what the event log says happened to it. */
export interface TaskHistory {
  types: string[];
  status: string;
  node: string | null;
  claimed_by: string | null;
}

/**
 * Checks that the log and the records tell one story, and returns the story per task; throws an
 * Error naming the first disagreement. The log: ids consecutive from the oldest, which is 1 (the
 * suites stay far below the retention). Per task: `task.created` first and once, every later
 * event a legal step of the state machine from the state the log had reached, each event's
 * `status` the state it led to. Records: every task has its `task.created`, its status, claimant
 * and attempts are what the log says, a `claimed` task carries claimed_by, claimed_node and a
 * lease, and every node's `claimed_tasks` is exactly the claimed tasks the log gives it.
 */
export function checkConsistency(events: Ev[], tasks: any[], nodes: any[]): Map<string, TaskHistory> {
  const fail = (why: string): never => {
    throw new Error(`inconsistent state: ${why}`);
  };
  events.forEach((e, i) => {
    if (e.id !== i + 1) fail(`event #${i} has id ${e.id}, expected ${i + 1} (ids must run 1, 2, 3, ... without gaps)`);
  });

  const story = new Map<string, TaskHistory>();
  const claims = new Map<string, number>();
  for (const e of events) {
    if (!e.type.startsWith("task.")) continue;
    const id: string = e.data.task_id;
    const h = story.get(id);
    const step = (allowedFrom: string[], next: string) => {
      if (!h) return fail(`event ${e.id} ${e.type} for task ${id} before its task.created`);
      if (!allowedFrom.includes(h.status)) fail(`event ${e.id} ${e.type} for task ${id} in state ${h.status}`);
      if (e.data.status !== next) fail(`event ${e.id} ${e.type} says status ${e.data.status}, expected ${next}`);
      h.types.push(e.type);
      h.status = next;
    };
    switch (e.type) {
      case "task.created":
        if (h) fail(`second task.created for task ${id} (event ${e.id})`);
        if (e.data.status !== "pending") fail(`task.created ${e.id} with status ${e.data.status}`);
        story.set(id, { types: [e.type], status: "pending", node: null, claimed_by: null });
        break;
      case "task.claimed":
        step(["pending", "orphaned"], "claimed");
        h!.node = e.data.node_id;
        h!.claimed_by = e.data.claimed_by;
        claims.set(id, (claims.get(id) ?? 0) + 1);
        break;
      case "task.completed":
        step(["claimed", "orphaned"], "completed");
        if (e.data.node_id !== h!.node) fail(`event ${e.id} completes task ${id} by ${e.data.node_id}, claimed by ${h!.node}`);
        break;
      case "task.released":
        step(["claimed"], "pending");
        break;
      case "task.orphaned":
        step(["claimed"], "orphaned");
        break;
      case "task.failed":
        step(["claimed", "orphaned"], e.data.status === "pending" ? "pending" : "failed");
        break;
      case "task.cancelled":
        step(["pending", "claimed", "orphaned"], "cancelled");
        break;
      default:
        fail(`unknown event type ${e.type} (${e.id})`);
    }
  }

  const byId = new Map(tasks.map((t) => [t.id as string, t]));
  if (byId.size !== tasks.length) fail("GET /tasks listed a task twice");
  for (const [id] of story) if (!byId.has(id)) fail(`the log created task ${id}, which does not exist`);
  const held = new Map<string, Set<string>>();
  for (const t of tasks) {
    const h = story.get(t.id);
    if (!h) return fail(`task ${t.id} exists without a task.created event`);
    if (t.status !== h.status) fail(`task ${t.id} is ${t.status}, the log says ${h.status}`);
    if (t.attempts !== (claims.get(t.id) ?? 0)) fail(`task ${t.id} has attempts ${t.attempts}, the log has ${claims.get(t.id) ?? 0} claims`);
    if (h.node !== null && (t.claimed_node !== h.node || t.claimed_by !== h.claimed_by)) {
      fail(`task ${t.id} claimed by ${t.claimed_by} on ${t.claimed_node}, the log says ${h.claimed_by} on ${h.node}`);
    }
    if (t.status === "claimed") {
      if (!t.claimed_by || !t.claimed_node || !t.lease_expires_at || !t.claimed_at) fail(`claimed task ${t.id} is half-claimed: ${JSON.stringify(t)}`);
      if (!held.has(t.claimed_node)) held.set(t.claimed_node, new Set());
      held.get(t.claimed_node)!.add(t.id);
    } else if (t.lease_expires_at !== null) {
      fail(`task ${t.id} is ${t.status} but keeps a lease`);
    }
  }
  for (const n of nodes) {
    const listed = [...n.claimed_tasks].sort();
    const expected = [...(held.get(n.id) ?? [])].sort();
    if (JSON.stringify(listed) !== JSON.stringify(expected)) {
      fail(`node ${n.id} lists claimed_tasks ${JSON.stringify(listed)}, the tasks claimed by it are ${JSON.stringify(expected)}`);
    }
    held.delete(n.id);
  }
  for (const [node, ids] of held) fail(`tasks ${[...ids].join(",")} are claimed by ${node}, which GET /nodes does not list`);
  return story;
}

/**
 * From the log alone: the most claims each node held at once (claims minus completions,
 * releases, failures, orphanings and cancellations of its tasks).
 */
export function peakClaimsPerNode(events: Ev[]): Map<string, number> {
  const holder = new Map<string, string>();
  const holding = new Map<string, number>();
  const peak = new Map<string, number>();
  for (const e of events) {
    const id = e.data?.task_id;
    if (e.type === "task.claimed") {
      holder.set(id, e.data.node_id);
      const n = (holding.get(e.data.node_id) ?? 0) + 1;
      holding.set(e.data.node_id, n);
      peak.set(e.data.node_id, Math.max(peak.get(e.data.node_id) ?? 0, n));
    } else if (["task.completed", "task.released", "task.failed", "task.orphaned", "task.cancelled"].includes(e.type) && holder.has(id)) {
      const node = holder.get(id)!;
      holder.delete(id);
      holding.set(node, holding.get(node)! - 1);
    }
  }
  return peak;
}
