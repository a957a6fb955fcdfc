import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../../src/core/identity.js";
import type { Labels, NewEvent, NodeHealth, Priority, Task } from "../../src/core/types.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { Store } from "../../src/store/types.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { CLAIM_TIMEOUT_MS, makeHarness, type Harness } from "./conformance-harness.js";

/**
 * Rule equivalence of claim-next on Redis (issue 15): the one-step Lua claim (CLAIM_LUA) and the
 * optimistic transaction over the rules in src/core/tasks.ts must answer every case alike. Each
 * case builds a state, takes a snapshot of every key, claims through the Lua path, captures
 * everything, restores the snapshot, claims the same through the transaction, and compares:
 * answers (task, null, or error code, message and details), every Redis key byte for byte
 * (records, index entries, the event log), and what this replica's observers heard.
 */

const skip = !findRedisServer() && !process.env.CI;

type NodeVariant =
  | "healthy"
  | "degraded"
  | "draining"
  | "offline"
  | "cordoned"
  | "at-capacity"
  | "no-workers"
  | "deregistered"
  | "registered-again"
  | "unknown-registration"
  | "other-token"
  | "narrowed-token";

interface TaskSpec {
  priority?: Priority;
  labels?: Labels;
  repo?: string;
  /** How the task stands before the claim (pending when omitted). */
  state?: "orphaned" | "claimed-elsewhere" | "waiting" | "cancelled" | "completed" | "blocked" | "unblocked" | `ended by ${ClaimEnd}`;
  /** Gave back lately by this node / by another node / by this node, cooldown over. */
  cooldown?: "self" | "other" | "expired";
  /** The node still lists a cancellation of an earlier claim of this task. */
  cancelledOnNode?: boolean;
  idempotent?: boolean;
  /** concurrency_key and concurrency_limit (DESIGN §11). */
  key?: string;
  limit?: number;
}

/** How a claim of n2 ends, freeing a slot of its concurrency key. */
type ClaimEnd = "complete" | "fail" | "cancel" | "release" | "lease expiry";

interface ClaimSpec {
  repo?: string;
  repos?: string[];
}

interface RuleCase {
  name: string;
  node: NodeVariant;
  nodeLabels?: Labels;
  tasks: TaskSpec[];
  claim?: ClaimSpec;
}

const NODE_LABELS: Labels = { pool: "gpu", region: "us" };
const ALPHA: Caller = { name: "alpha", role: "node" };

const TASK_SETS: Record<string, TaskSpec[]> = {
  empty: [],
  "priority order": [{ priority: "low" }, { priority: "critical" }, { priority: "medium" }, { priority: "high" }, { priority: "critical" }],
  "label requirements": [
    { labels: { pool: "cpu" }, priority: "critical" },
    { labels: { pool: "gpu", region: "eu" }, priority: "critical" },
    { labels: { pool: "gpu" } },
    { labels: { pool: "gpu", region: "us" }, priority: "high" },
    { labels: {} , priority: "low" },
    { labels: { zone: "a" }, priority: "high" },
  ],
  repos: [{ repo: "acme/app" }, { repo: "acme/other", priority: "high" }, { repo: "acme/third", priority: "critical" }, { repo: "acme/app", priority: "low" }],
  cooldown: [
    { cooldown: "self", priority: "critical" },
    { cooldown: "other", priority: "high" },
    { cooldown: "expired", priority: "high" },
    { cooldown: "self" },
  ],
  "only cooling": [{ cooldown: "self" }, { cooldown: "self", priority: "high" }],
  orphaned: [{ state: "orphaned" }, { priority: "high" }, { state: "orphaned", priority: "high" }, { state: "orphaned", priority: "critical", labels: { pool: "gpu" } }],
  "not claimable": [
    { state: "waiting", priority: "critical" },
    { state: "cancelled", priority: "critical" },
    { state: "claimed-elsewhere", priority: "critical" },
    { state: "completed", priority: "critical" },
    { priority: "low", idempotent: true },
  ],
  dependencies: [{ state: "blocked", priority: "critical" }, { state: "unblocked", priority: "high" }, { priority: "low" }],
  "concurrency keys": [
    { key: "deploy", state: "claimed-elsewhere", priority: "critical" },
    { key: "deploy", priority: "critical" },
    { key: "db", limit: 2, state: "claimed-elsewhere" },
    { key: "db", limit: 2, priority: "high" },
    { key: "db", limit: 2, priority: "high", idempotent: true },
    { key: "db", limit: 3 },
    { key: "db", limit: 3, state: "orphaned" },
    { priority: "low" },
  ],
  "full keys past the first window": [
    { key: "deploy", state: "claimed-elsewhere" },
    ...Array.from({ length: 40 }, (): TaskSpec => ({ key: "deploy", priority: "critical" })),
    { cooldown: "self", priority: "critical" },
    { priority: "low", key: "free", limit: 2 },
    { priority: "low" },
  ],
  "cooling, then a full key": [
    ...Array.from({ length: 31 }, (): TaskSpec => ({ cooldown: "self", priority: "critical" })),
    { key: "deploy", state: "claimed-elsewhere", priority: "high" },
    { key: "deploy", priority: "high" },
    ...Array.from({ length: 3 }, (): TaskSpec => ({ cooldown: "self", priority: "medium" })),
    { priority: "low" },
  ],
  // Concurrency groups (keyed tasks are bucketed by key and limit; a full group is left out whole).
  "key fills up": [
    { key: "db", limit: 2, state: "claimed-elsewhere" },
    ...Array.from({ length: 3 }, (): TaskSpec => ({ key: "db", limit: 2, priority: "critical" })),
    { priority: "low" },
    { priority: "low", key: "free", limit: 1 },
  ],
  ...Object.fromEntries(
    (["complete", "fail", "cancel", "release", "lease expiry"] as const).map((end) => [
      `key freed by ${end}`,
      [
        { key: "deploy", state: `ended by ${end}`, priority: "critical" },
        ...Array.from({ length: 3 }, (): TaskSpec => ({ key: "deploy", priority: "high" })),
        { priority: "low" },
      ] satisfies TaskSpec[],
    ]),
  ),
  "limits differ under one key": [
    { key: "db", limit: 1, state: "claimed-elsewhere" },
    { key: "db", limit: 1, priority: "critical" },
    { key: "db", limit: 1, priority: "critical" },
    { key: "db", limit: 3, priority: "high" },
    { key: "db", limit: 2, priority: "high" },
    { key: "db", limit: 3, priority: "medium" },
    { key: "db", limit: 4 },
    { priority: "low" },
  ],
  "many tasks of a full key ahead of claimable ones": [
    { key: "deploy", state: "claimed-elsewhere" },
    ...Array.from({ length: 100 }, (): TaskSpec => ({ key: "deploy", priority: "critical" })),
    { key: "deploy", limit: 2, priority: "low" },
    { priority: "low", labels: { pool: "gpu" } },
    { priority: "low" },
  ],
  "only full keys": [{ key: "deploy", state: "claimed-elsewhere" }, ...Array.from({ length: 5 }, (): TaskSpec => ({ key: "deploy" }))],
  // Groups met at their heads' places in the claim order (many keys, heads that change, cooldown).
  "many keys, some full": [
    ...Array.from({ length: 8 }, (_, i): TaskSpec => ({ key: `t${i}`, state: "claimed-elsewhere" })),
    ...Array.from({ length: 8 }, (_, i): TaskSpec => ({ key: `t${i}`, priority: "critical" })),
    ...Array.from({ length: 8 }, (_, i): TaskSpec => ({ key: `c${i}`, cooldown: "self", priority: "high" })),
    ...Array.from({ length: 30 }, (_, i): TaskSpec => ({ key: `f${i}`, priority: i % 2 ? "medium" : "low" })),
  ],
  "keyed tasks cooling": [
    { key: "db", state: "claimed-elsewhere" },
    { key: "db", cooldown: "self", priority: "critical" },
    { key: "deploy", cooldown: "self", priority: "critical" },
    { key: "deploy", cooldown: "other", priority: "high" },
    { priority: "low" },
  ],
  "only cooling keyed, one key full": [{ key: "db", state: "claimed-elsewhere" }, { key: "db", cooldown: "self" }, { key: "deploy", limit: 2, cooldown: "self" }],
  "only a full key's cooling task": [{ key: "db", state: "claimed-elsewhere" }, { key: "db", cooldown: "self", priority: "critical" }],
  "a group's head changes": [
    { key: "g", limit: 2, priority: "low" },
    { key: "g", limit: 2, priority: "medium" },
    { priority: "high" },
    { key: "g", limit: 2, priority: "critical", state: "cancelled" },
    { key: "g", limit: 2, priority: "critical", cooldown: "self" },
    { key: "g", limit: 2, priority: "high", state: "orphaned" },
  ],
  "cancellations on the node": [{ cancelledOnNode: true, priority: "high" }, { idempotent: true }, { cancelledOnNode: true }],
  "past the lookahead": [...Array.from({ length: 33 }, (): TaskSpec => ({ cooldown: "self", priority: "critical" })), { priority: "low" }],
};

const CLAIMS: Record<string, ClaimSpec> = {
  "any repo": {},
  "repo acme/app": { repo: "acme/app" },
  "repos other+third": { repos: ["acme/other", "acme/third"] },
  "repos none": { repos: [] },
  "repo and repos": { repo: "acme/app", repos: ["acme/app", "acme/other"] },
  "repo outside repos": { repo: "acme/third", repos: ["acme/app"] },
};

const NODE_VARIANTS: NodeVariant[] = [
  "healthy",
  "degraded",
  "draining",
  "offline",
  "cordoned",
  "at-capacity",
  "no-workers",
  "deregistered",
  "registered-again",
  "unknown-registration",
  "other-token",
  "narrowed-token",
];

function cases(): RuleCase[] {
  const out: RuleCase[] = [];
  for (const node of NODE_VARIANTS) {
    for (const [set, tasks] of Object.entries(TASK_SETS)) {
      // Nodes that may not claim get every task set once; a healthy node also every filter.
      const claims = node === "healthy" || set === "repos" ? Object.entries(CLAIMS) : [["any repo", {}] as const];
      for (const [claimName, claim] of claims) out.push({ name: `${node} node, ${set}, ${claimName}`, node, tasks, claim });
    }
  }
  out.push({ name: "unlabelled node, label requirements", node: "healthy", nodeLabels: {}, tasks: TASK_SETS["label requirements"]! });
  return out;
}

describe.skipIf(skip)("claim-next on Redis: the Lua script and the TypeScript rules agree (real redis-server)", () => {
  let server: RedisServer;
  let raw: Redis;
  let store: Store;
  let fast: Harness;
  let slow: Harness;
  const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
  const PREFIX = "eq:";
  const kinds = new Set<string>();

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url);
    store = await createRedisStore(server.url, { keyPrefix: PREFIX });
    const { claimNext: lua, ...withoutLua } = store;
    // The Lua path, noting what each script run answered.
    fast = makeHarness({ ...store, claimNext: async (request) => {
      const outcome = await lua!(request);
      kinds.add(outcome.kind);
      return outcome;
    } }, clock);
    slow = makeHarness(withoutLua, clock);
  });
  afterAll(async () => {
    await fast?.coord.stop();
    await slow?.coord.stop();
    await store?.close();
    raw?.disconnect();
    await server?.stop();
  });

  async function keys(): Promise<string[]> {
    return (await raw.keys(`${PREFIX}*`)).filter((k) => !k.startsWith(`${PREFIX}tx:`)).sort();
  }

  /** Every key of the deployment with its value, for byte-for-byte comparison. */
  async function everything(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const key of await keys()) {
      const type = await raw.type(key);
      if (type === "hash") out[key] = await raw.hgetall(key);
      else if (type === "zset") out[key] = await raw.zrange(key, 0, -1, "WITHSCORES");
      else if (type === "set") out[key] = (await raw.smembers(key)).sort();
      else out[key] = await raw.get(key);
    }
    return out;
  }

  async function snapshot(): Promise<() => Promise<void>> {
    const all = await raw.keys(`${PREFIX}*`);
    const dumps = await Promise.all(all.map((k) => raw.dumpBuffer(k)));
    return async () => {
      const now = await raw.keys(`${PREFIX}*`);
      if (now.length > 0) await raw.del(...now);
      for (let i = 0; i < all.length; i++) await raw.restore(all[i]!, 0, dumps[i]!);
    };
  }

  async function patchTask(id: string, patch: Partial<Task>): Promise<void> {
    await store.transact(async (tx) => {
      tx.putTask({ ...(await tx.getTask(id))!, ...patch });
    });
  }

  /** Builds the case's state through the coordinator (and direct writes for what needs time to pass). */
  async function build(c: RuleCase): Promise<{ registration_id: string; caller?: Caller }> {
    await raw.flushdb();
    clock.t += 3_600_000;
    const h = fast;
    const labels = c.nodeLabels ?? NODE_LABELS;
    const maxWorkers = c.node === "at-capacity" ? 1 : c.node === "no-workers" ? 0 : 3;
    const reg = (await h.coord.nodes.register({ node_id: "n1", capacity: { max_workers: maxWorkers }, labels }, c.node === "other-token" || c.node === "narrowed-token" ? ALPHA : undefined)).registration_id;
    // The Lua path remembers a registration's node after its first claim (nothing fits yet).
    await h.coord.tasks.claimBest({ registration_id: reg, worker_name: "warm-up" }).catch(() => null);
    const otherReg = await h.register("n2", { labels: { pool: "gpu", region: "us", zone: "a" } });
    const made: Task[] = [];
    for (const spec of c.tasks) {
      // A dependency only n2 can take (zone a): open, or completed by n2 (which readies the task).
      const dep = spec.state === "blocked" || spec.state === "unblocked" ? await h.createTask({ labels: { zone: "a" }, repo: "acme/deps" }) : undefined;
      const task = await h.createTask({
        ...(dep ? { depends_on: [dep.id] } : {}),
        ...(spec.priority ? { priority: spec.priority } : {}),
        ...(spec.labels ? { labels: spec.labels } : {}),
        ...(spec.repo ? { repo: spec.repo } : {}),
        ...(spec.idempotent ? { idempotency_key: `key-${made.length}` } : {}),
        ...(spec.key ? { concurrency_key: spec.key, ...(spec.limit ? { concurrency_limit: spec.limit } : {}) } : {}),
        ...(spec.state === "waiting" ? { not_before: new Date(clock.t + 60_000).toISOString() } : {}),
      });
      made.push(task);
      if (dep && spec.state === "unblocked") {
        await h.coord.tasks.claim(dep.id, { registration_id: otherReg, worker_name: "w" });
        await h.coord.tasks.complete(dep.id, { registration_id: otherReg });
      }
      if (dep) expect((await store.getTask(task.id))!.status).toBe(spec.state === "blocked" ? "waiting" : "pending");
      if (spec.state === "cancelled") await h.coord.tasks.cancel(task.id, "no");
      const ended = spec.state?.startsWith("ended by ") ? (spec.state.slice("ended by ".length) as ClaimEnd) : undefined;
      if (spec.state === "claimed-elsewhere" || spec.state === "completed" || spec.state === "orphaned" || ended) {
        await h.coord.tasks.claim(task.id, { registration_id: otherReg, worker_name: "w" });
      }
      if (ended === "complete") await h.coord.tasks.complete(task.id, { registration_id: otherReg });
      if (ended === "fail") await h.coord.tasks.fail(task.id, { registration_id: otherReg, reason: "x", retry: false });
      if (ended === "cancel") await h.coord.tasks.cancel(task.id, "no");
      if (ended === "release") await h.coord.tasks.release(task.id, { registration_id: otherReg });
      if (ended === "lease expiry") {
        clock.t += CLAIM_TIMEOUT_MS + 1;
        expect((await h.coord.sweep()).expired).toEqual([task.id]);
      }
      if (ended) expect(await store.countClaimedWithKey(spec.key!)).toBe(0);
      if (spec.state === "completed") await h.coord.tasks.complete(task.id, { registration_id: otherReg, summary: "done" });
      if (spec.state === "orphaned") {
        // What the lease sweep leaves: orphaned, still naming its last claimant.
        await store.transact(async (tx) => {
          const t = (await tx.getTask(task.id))!;
          tx.putTask({ ...t, status: "orphaned", lease_expires_at: null, updated_at: new Date(clock.t - 5000).toISOString() });
          const n2 = (await tx.getNode("n2"))!;
          tx.putNode({ ...n2, claimed_tasks: n2.claimed_tasks.filter((id) => id !== task.id) });
        });
      }
      if (spec.cooldown) {
        const until = new Date(clock.t + (spec.cooldown === "expired" ? -1 : 30_000)).toISOString();
        await patchTask(task.id, { cooldown: { node_id: spec.cooldown === "other" ? "n2" : "n1", until } });
      }
    }
    if (c.node === "at-capacity") {
      const held = await h.createTask({ repo: "acme/held" });
      await h.coord.tasks.claim(held.id, { registration_id: reg, worker_name: "busy" });
    }
    await store.transact(async (tx) => {
      const n1 = (await tx.getNode("n1"))!;
      const cancelled = made.filter((_, i) => c.tasks[i]!.cancelledOnNode).map((t) => ({ task_id: t.id, cancelled_at: new Date(clock.t).toISOString() }));
      tx.putNode({
        ...n1,
        status: c.node === "offline" ? "offline" : n1.status,
        cancelled_tasks: [...cancelled, { task_id: "task-elsewhere", cancelled_at: new Date(clock.t).toISOString() }],
      });
    });
    const health: NodeHealth | undefined = c.node === "degraded" ? "degraded" : c.node === "draining" ? "draining" : undefined;
    if (health) await h.coord.nodes.heartbeat({ registration_id: reg, status: health }, c.node === "other-token" ? ALPHA : undefined);
    if (c.node === "cordoned") await h.coord.nodes.cordon("n1", true);
    if (c.node === "deregistered") await h.coord.nodes.deregister(reg);
    if (c.node === "registered-again") await h.coord.nodes.register({ node_id: "n1", capacity: { max_workers: maxWorkers }, labels });
    clock.t += 1000;
    if (c.node === "unknown-registration") return { registration_id: "reg-nobody" };
    if (c.node === "other-token") return { registration_id: reg, caller: { name: "beta", role: "node" } };
    if (c.node === "narrowed-token") return { registration_id: reg, caller: { ...ALPHA, nodes: ["ci-*"] } };
    return { registration_id: reg };
  }

  /** Up to four claims in a row (the first as a long poll's waiter would), with what each answered. */
  async function run(h: Harness, c: RuleCase, who: { registration_id: string; caller?: Caller }) {
    const observed: NewEvent[] = [];
    const off = h.coord.onCommitted((e) => observed.push(e));
    const answers: unknown[] = [];
    try {
      const labels = (await store.getNode("n1"))?.labels ?? {};
      for (let i = 0; i < 4; i++) {
        const input = { registration_id: who.registration_id, worker_name: `w${i}`, ...c.claim };
        try {
          const got = i === 0 ? await h.coord.tasks.claimForWaiter(input, labels, who.caller) : await h.coord.tasks.claimBest(input, who.caller);
          answers.push(typeof got === "symbol" ? "not for this waiter" : got);
          if (!got || typeof got === "symbol") break;
        } catch (err) {
          const e = err as { code?: string; message: string; details?: unknown };
          answers.push({ code: e.code, message: e.message, details: e.details });
          break;
        }
      }
    } finally {
      off();
    }
    return { answers, observed, state: await everything() };
  }

  it("runs the same table of cases through both and gets the same answers, records, indexes and events", async () => {
    const table = cases();
    const claimedSomewhere = new Set<string>();
    const errors = new Set<string>();
    for (const c of table) {
      const who = await build(c);
      const restore = await snapshot();
      const lua = await run(fast, c, who);
      await restore();
      const ts = await run(slow, c, who);
      expect(lua.answers, c.name).toEqual(ts.answers);
      expect(lua.observed, c.name).toEqual(ts.observed);
      expect(lua.state, c.name).toEqual(ts.state);
      for (const a of ts.answers) {
        if (a && typeof a === "object" && "id" in a) claimedSomewhere.add(c.name);
        if (a && typeof a === "object" && "code" in a) errors.add(String((a as { code: string }).code));
      }
    }
    // The table reaches every answer a claim can give.
    expect([...errors].sort()).toEqual(["FORBIDDEN", "NODE_AT_CAPACITY", "NODE_CORDONED", "NODE_OFFLINE", "REGISTRATION_NOT_FOUND"]);
    expect(claimedSomewhere.size).toBeGreaterThan(20);
    expect([...kinds].sort()).toEqual(["claimed", "node", "none", "registration", "skipped"]);
  }, 120_000);
});
