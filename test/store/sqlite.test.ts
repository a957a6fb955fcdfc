import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it, vi } from "vitest";
import { SETTLE_GRACE_MS } from "../../src/coordinator/dependent-settle.js";
import { SCHEMA_VERSION } from "../../src/store/sqlite-schema.js";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { describeStoreConformance } from "./conformance.js";
import { makeHarness, typesOf } from "./conformance-harness.js";

const root = mkdtempSync(join(tmpdir(), "mcc-sqlite-"));
let n = 0;
const nextPath = () => join(root, `db-${++n}`, "coordination.db");

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What undoes each migration, newest first: to test the migrations of an older file. */
const UNDO: Record<number, string> = {
  8: "DROP INDEX tasks_claimed_by_key;",
  7: "DROP TABLE sessions;",
  6: "DROP TABLE task_deps;",
  5: "DROP INDEX tasks_waiting;",
  4: "DROP TABLE webhook_cursors;",
  3: "DROP INDEX tasks_done; ALTER TABLE tasks DROP COLUMN done_ms; DROP INDEX messages_acked; ALTER TABLE messages DROP COLUMN acked_ms;",
  2: "ALTER TABLE events DROP COLUMN size; DELETE FROM meta WHERE key = 'event_bytes';",
};

/** Turns a closed database back into the shape of schema `version`. */
function downgrade(path: string, version: number): void {
  const db = new Database(path);
  try {
    for (let v = db.pragma("user_version", { simple: true }) as number; v > version; v--) db.exec(UNDO[v]!);
    db.pragma(`user_version = ${version}`);
  } finally {
    db.close();
  }
}

describeStoreConformance("sqlite", (options) => createSqliteStore(nextPath(), options));

describe("SQLite store", () => {
  it("creates the database folder with mode 0700, in WAL mode, at the current schema version", async () => {
    const path = join(root, "private", "nested", "c.db");
    const store = await createSqliteStore(path);
    await store.close();
    expect(statSync(join(root, "private", "nested")).mode & 0o777).toBe(0o700);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it("migrates a version-1 log: existing events count against events.max_bytes", async () => {
    const path = nextPath();
    let store = await createSqliteStore(path);
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    for (let i = 0; i < 20; i++) await h.createTask({ description: "y".repeat(500) });
    const before = await store.readEvents(0, 100);
    await h.coord.stop();
    await store.close();
    // Back to the version-1 shape: no size column, no byte count.
    downgrade(path, 1);

    store = await createSqliteStore(path, { maxEventBytes: 6000 });
    try {
      expect(await store.readEvents(0, 100)).toEqual(before);
      await makeHarness(store, { t: Date.parse("2030-01-02T00:00:00Z") }).createTask();
      const kept = await store.readEvents(0, 100);
      expect(kept.length).toBeLessThan(12);
      expect(kept.at(-1)!.id).toBe(21);
    } finally {
      await store.close();
    }
  });

  it("keeps everything across a reopen, and event ids keep increasing past trimmed ones", async () => {
    const path = nextPath();
    const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
    let store = await createSqliteStore(path, { retention: 5 });
    let h = makeHarness(store, clock);
    const reg = await h.register("n1", { labels: { pool: "gpu" } });
    const tasks = [];
    for (let i = 0; i < 8; i++) tasks.push(await h.createTask({ priority: i % 2 ? "high" : "low", labels: i % 3 ? {} : { pool: "gpu" } }));
    await h.coord.tasks.claim(tasks[0]!.id, { registration_id: reg, worker_name: "w" });
    await h.coord.nodes.heartbeat({ registration_id: reg, repos: [{ name: "acme/app", active_prs: 3 }] });
    const msg = await h.coord.messages.send({ from: "lead", to: "w@n1", body: "hi" });
    const before = {
      bounds: await store.eventBounds(),
      events: await store.readEvents(0, 100),
      pending: await h.coord.tasks.pending({ labels: { pool: "gpu" } }),
      tasks: await store.listTasks({ limit: 100 }),
      nodes: await store.listNodes({}),
      counts: await store.counts(),
    };
    expect(before.events.length).toBe(5);
    await h.coord.stop();
    await store.close();

    store = await createSqliteStore(path, { retention: 5 });
    h = makeHarness(store, clock);
    expect(await store.eventBounds()).toEqual(before.bounds);
    expect(await store.readEvents(0, 100)).toEqual(before.events);
    expect(await h.coord.tasks.pending({ labels: { pool: "gpu" } })).toEqual(before.pending);
    expect(await store.listTasks({ limit: 100 })).toEqual(before.tasks);
    expect(await store.listNodes({})).toEqual(before.nodes);
    expect(await store.counts()).toEqual(before.counts);
    expect((await store.getNodeByRegistration(reg))?.id).toBe("n1");
    expect((await store.getTask(tasks[0]!.id))!.status).toBe("claimed");
    expect(await store.getMessage(msg.id)).toEqual(msg);
    expect(await store.countPendingMessages("n1")).toBe(1);
    expect(await store.getRepo("acme/app")).toMatchObject({ active_prs: 3 });

    const seen: number[] = [];
    store.onEvents((batch) => seen.push(...batch.map((e) => e.id)));
    await h.createTask();
    await h.coord.tasks.complete(tasks[0]!.id, { registration_id: reg });
    expect(seen).toEqual([before.bounds.last_id + 1, before.bounds.last_id + 2]);
    expect((await store.eventBounds()).last_id).toBe(before.bounds.last_id + 2);
    await h.coord.stop();
    await store.close();
  });

  it("migration 3 indexes the finished tasks and acked messages of a version-2 database for retention", async () => {
    const path = nextPath();
    const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
    let store = await createSqliteStore(path);
    let h = makeHarness(store, clock);
    const reg = await h.register("n1");
    const old = await h.coord.tasks.cancel((await h.createTask()).id, null);
    const open = await h.createTask();
    const msg = await h.coord.messages.send({ from: "lead@hq", to: "w@n1", body: "hi" });
    await h.coord.messages.ack(msg.id, reg);
    await h.coord.stop();
    await store.close();
    // Back to version 2: the columns and indexes of migration 3 did not exist.
    downgrade(path, 2);

    store = await createSqliteStore(path);
    h = makeHarness(store, clock);
    const later = new Date(clock.t + 1).toISOString();
    expect((await store.finishedTasks(later, 10)).map((t) => t.id)).toEqual([old.id]);
    expect((await store.ackedMessages(later, 10)).map((m) => m.id)).toEqual([msg.id]);
    expect(await store.finishedTasks(old.completed_at!, 10)).toEqual([]);
    h.advance(31 * 86_400_000);
    expect(await h.coord.sweep()).toMatchObject({ purged_tasks: 1, purged_messages: 1 });
    expect((await store.listTasks({ limit: 10 })).tasks.map((t) => t.id)).toEqual([open.id]);
    await h.coord.stop();
    await store.close();
  });

  it("refuses a database written by a newer schema, and a path it cannot create", async () => {
    const path = nextPath();
    await (await createSqliteStore(path)).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(createSqliteStore(path)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    const blocker = join(root, "file-not-dir");
    await (await createSqliteStore(blocker)).close();
    await expect(createSqliteStore(join(blocker, "x.db"))).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("belongs to one process: a second open of the file is refused at once, until the first closes", async () => {
    const path = nextPath();
    const first = await createSqliteStore(path);
    const h = makeHarness(first, { t: Date.parse("2030-01-01T00:00:00Z") });
    await h.createTask();
    // Still WAL, and with exclusive locking no shared-memory index is made.
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-shm`)).toBe(false);
    const started = Date.now();
    await expect(createSqliteStore(path)).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: `store sqlite://${path} is in use by another coordinator process`,
    });
    expect(Date.now() - started).toBeLessThan(3000);
    // Nor can another connection read it behind the store's back.
    expect(() => new Database(path, { readonly: true, timeout: 10 }).prepare("SELECT COUNT(*) FROM tasks").get()).toThrow(/locked/);
    await h.coord.stop();
    await first.close();
    const second = await createSqliteStore(path);
    expect(await second.countPending()).toBe(1);
    await second.close();
  });

  it("keeps its in-memory pending buckets in step with the file when a commit fails", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    const kept = await h.createTask({ labels: { pool: "gpu" } });
    const a = { ...kept, id: `${kept.id}-a`, labels: { pool: "cpu" }, idempotency_key: "same" };
    const b = { ...kept, id: `${kept.id}-b`, repo: "other/repo", idempotency_key: "same" };
    // The second write breaks the unique idempotency key: SQLite rolls the whole commit back.
    await expect(
      store.transact(async (tx) => {
        tx.putTask(a);
        tx.putTask(b);
      }),
    ).rejects.toThrow(/UNIQUE/);
    expect(await store.countPending()).toBe(1);
    expect(await store.countPending("other/repo")).toBe(0);
    expect((await store.listPending({ labels: { pool: "cpu" }, limit: 10 })).map((t) => t.id)).toEqual([]);
    expect((await store.listPending({ labels: { pool: "gpu" }, limit: 10 })).map((t) => t.id)).toEqual([kept.id]);
    // A claim empties the bucket; a reopen loads the same buckets from the file.
    const reg = await h.register("n1", { labels: { pool: "gpu" } });
    await h.coord.tasks.claim(kept.id, { registration_id: reg, worker_name: "w" });
    expect(await store.listPending({ limit: 10 })).toEqual([]);
    await h.createTask({ labels: { pool: "cpu" }, priority: "high" });
    const before = await store.listPending({ labels: { pool: "cpu" }, limit: 10 });
    await h.coord.stop();
    await store.close();
    const reopened = await createSqliteStore(path);
    expect(await reopened.listPending({ labels: { pool: "cpu" }, limit: 10 })).toEqual(before);
    expect(await reopened.listPending({ labels: {}, limit: 10 })).toEqual([]);
    expect(await reopened.countPending("acme/app")).toBe(1);
    // The claim order loaded at open and the one commits keep are the same order: priority, then age.
    const h2 = makeHarness(reopened, { t: Date.parse("2030-01-02T00:00:00Z") });
    const later = [await h2.createTask({ priority: "low" }), await h2.createTask({ priority: "critical" }), await h2.createTask({ labels: { pool: "cpu" } })];
    const order = (await reopened.listPending({ labels: { pool: "cpu" }, limit: 10 })).map((t) => t.description === "do the thing" && t.priority);
    expect(order).toEqual(["critical", "high", "medium", "low"]);
    expect((await reopened.listPending({ limit: 2 })).map((t) => t.id)).toEqual([later[1]!.id, before[0]!.id]);
    expect((await reopened.pendingBuckets()).map((b) => [b.labels, b.count, b.oldest_id])).toEqual(
      expect.arrayContaining([[{ pool: "cpu" }, 2, before[0]!.id], [{}, 2, later[0]!.id]]),
    );
    await h2.coord.stop();
    await reopened.close();
  });

  it("finds unsettled tasks without a query while none is unsettled; they are kept by commits and found again after a reopen", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    const { tasks: deps } = await h.coord.tasks.createBatch(Array.from({ length: 200 }, (_, i) => ({ repo: "acme/app", description: `x${i}` })));
    const { tasks: waiting } = await h.coord.tasks.createBatch(deps.map((d) => ({ repo: "acme/app", description: "d", depends_on: [d.id] })));
    // Every statement run on any connection, while the store looks.
    const proto = Object.getPrototypeOf(new Database(":memory:").prepare("SELECT 1")) as Record<"all" | "get" | "iterate" | "run", () => unknown>;
    const spies = (["all", "get", "iterate", "run"] as const).map((m) => vi.spyOn(proto, m));
    const statementsOf = async (look: () => Promise<unknown>) => {
      for (const s of spies) s.mockClear();
      await look();
      return spies.reduce((n, s) => n + s.mock.calls.length, 0);
    };
    try {
      expect(await statementsOf(() => store.unsettledTasks(100))).toBe(0);
      // An end written without its follow-up (a replica that stopped): the commit marks it.
      const x = deps[0]!;
      await store.transact(async (tx) => tx.putTask({ ...x, status: "cancelled", completed_at: new Date(h.now()).toISOString() }));
      expect(await store.unsettledTasks(100)).toEqual([x.id]);
      await h.coord.stop();
      await store.close();
      const reopened = await createSqliteStore(path);
      expect(await reopened.unsettledTasks(100)).toEqual([x.id]);
      const h2 = makeHarness(reopened, { t: h.now() + SETTLE_GRACE_MS + 1 });
      expect((await h2.coord.sweep()).settled).toEqual([x.id]);
      expect(await reopened.getTask(waiting[0]!.id)).toMatchObject({ status: "cancelled" });
      expect(await statementsOf(() => reopened.unsettledTasks(100))).toBe(0);
      expect(await reopened.unsettledTasks(100)).toEqual([]);
      await h2.coord.stop();
      await reopened.close();
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it("loads keyed tasks into their concurrency group's bucket at open: a full key stays left out after a reopen", async () => {
    const path = nextPath();
    const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
    let store = await createSqliteStore(path);
    let h = makeHarness(store, clock);
    const a = await h.register("a");
    const held = await h.createTask({ concurrency_key: "deploy", priority: "critical" });
    await h.coord.tasks.claim(held.id, { registration_id: a, worker_name: "w" });
    const full = [];
    for (let i = 0; i < 40; i++) full.push(await h.createTask({ concurrency_key: "deploy", priority: "critical" }));
    const roomier = await h.createTask({ concurrency_key: "deploy", concurrency_limit: 2, priority: "low" });
    await h.coord.stop();
    await store.close();
    store = await createSqliteStore(path);
    h = makeHarness(store, clock);
    expect((await store.listPending({ limit: 5, withRoom: true })).map((t) => t.id)).toEqual([roomier.id]);
    expect((await store.listPending({ limit: 1 })).map((t) => t.id)).toEqual([full[0]!.id]);
    await h.coord.tasks.complete(held.id, { registration_id: a });
    expect((await store.listPending({ limit: 1, withRoom: true })).map((t) => t.id)).toEqual([full[0]!.id]);
    // A task leaving the order after the reopen leaves its group's bucket (found by id).
    expect((await h.coord.claimNext({ registration_id: a, worker_name: "w2" }))?.id).toBe(full[0]!.id);
    expect(await store.countPending()).toBe(40);
    await h.coord.stop();
    await store.close();
  });

  it("group commit: a batch whose commit fails rejects all its transactions and leaves the store unchanged", async () => {
    const store = await createSqliteStore(nextPath());
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    const kept = await h.createTask({ idempotency_key: "taken" });
    const before = { bounds: await store.eventBounds(), tasks: await store.listTasks({ limit: 100 }), counts: await store.counts() };
    const seen: number[][] = [];
    store.onEvents((batch) => seen.push(batch.map((e) => e.id)));
    // Queued together: one batch. The second one's write breaks the unique idempotency key.
    const results = await Promise.allSettled([
      h.coord.tasks.create({ repo: "acme/app", description: "fine" }),
      store.transact(async (tx) => tx.putTask({ ...kept, id: `${kept.id}-dup` })),
      store.transact(async (tx) => (await tx.listPending({ limit: 10 })).map((t) => t.description)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/UNIQUE/);
    expect(seen).toEqual([]);
    expect(await store.eventBounds()).toEqual(before.bounds);
    expect(await store.listTasks({ limit: 100 })).toEqual(before.tasks);
    expect(await store.counts()).toEqual(before.counts);
    expect((await store.listPending({ limit: 10 })).map((t) => t.id)).toEqual([kept.id]);
    // The next batch goes through.
    const next = await h.createTask();
    expect(seen).toEqual([[before.bounds.last_id + 1]]);
    expect((await store.listPending({ limit: 10 })).map((t) => t.id)).toEqual([kept.id, next.id]);
    await h.coord.stop();
    await store.close();
  });

  it("group commit: claims in one batch see the batch's earlier creates and claims, and its events come out once, in order", async () => {
    const store = await createSqliteStore(nextPath());
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    const regs = [];
    for (let i = 0; i < 4; i++) regs.push(await h.register(`n${i}`));
    const old = await h.createTask({ priority: "low" });
    const seen: number[][] = [];
    store.onEvents((batch) => seen.push(batch.map((e) => e.id)));
    const last = (await store.eventBounds()).last_id;
    // All queued in one turn: one batch. Each claim must find a task no earlier claim took,
    // including the ones created earlier in the same batch.
    h.advance(1);
    const created = [h.coord.tasks.create({ repo: "acme/app", description: "a", priority: "high" })];
    const claims = regs.slice(0, 2).map((registration_id, i) => h.coord.tasks.claimBest({ registration_id, worker_name: `w${i}` }));
    h.advance(1);
    created.push(h.coord.tasks.create({ repo: "acme/app", description: "b", priority: "critical" }));
    claims.push(...regs.slice(2).map((registration_id, i) => h.coord.tasks.claimBest({ registration_id, worker_name: `w${i + 2}` })));
    const [a, b] = (await Promise.all(created)).map((r) => r.task);
    const got = (await Promise.all(claims)).map((t) => t?.id ?? null);
    expect(got).toEqual([a!.id, old.id, b!.id, null]);
    expect(seen).toEqual([[last + 1, last + 2, last + 3, last + 4, last + 5]]);
    expect(typesOf(await store.readEvents(last, 10))).toEqual(["task.created", "task.claimed", "task.claimed", "task.created", "task.claimed"]);
    expect(await store.listPending({ limit: 10 })).toEqual([]);
    expect(await store.countPending()).toBe(0);
    expect((await store.counts()).tasks.claimed).toBe(3);
    await h.coord.stop();
    await store.close();
  });

  it("group commit: more claims in one batch than the heads it fetched at first still take every task, best first", async () => {
    const store = await createSqliteStore(nextPath());
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    const reg = await h.register("n1", { maxWorkers: 100 });
    const tasks = [];
    for (let i = 0; i < 45; i++) tasks.push(await h.createTask({ priority: i % 3 ? "low" : "high" }));
    const best = [...tasks.filter((_, i) => i % 3 === 0), ...tasks.filter((_, i) => i % 3 !== 0)].map((t) => t.id);
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => h.coord.tasks.claimBest({ registration_id: reg, worker_name: `w${i}` })));
    expect(got.map((t) => t?.id ?? null)).toEqual([...best, ...Array(5).fill(null)]);
    expect((await store.getNode("n1"))!.claimed_tasks).toEqual(best);
    expect(await store.countPending()).toBe(0);
    await h.coord.stop();
    await store.close();
  });

  it("refuses transactions after close", async () => {
    const store = await createSqliteStore(nextPath());
    await store.close();
    await expect(store.transact(async () => 1)).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
