/**
 * Claims over real HTTP: first write wins under real concurrency, long polls hand each task to
 * exactly one node, capacity and node state are enforced, and the claim order is priority, then
 * oldest first.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import {
  allEvents,
  claim,
  claimNext,
  expectError,
  finish,
  getNode,
  getTask,
  heartbeat,
  makeClock,
  okData,
  registerNodes,
  type TestClock,
} from "../helpers/api-fixtures.js";

let server: TestServer;
let clock: TestClock;

beforeEach(async () => {
  clock = makeClock();
  server = await startTestServer({ clock: clock.now, offlineThresholdMs: 90_000, claimTimeoutMs: 300_000 });
});
afterEach(async () => {
  await server.close();
});

/** Waits until `n` long polls wait on the server's coordinator (a condition, not a time). */
async function polling(n: number): Promise<void> {
  while (server.coordinator.longPolls < n) await sleep(5);
}

describe("concurrent claims of one task", () => {
  it("100 nodes claim at once: exactly one 200, 99 × 409 TASK_CLAIMED naming the winner", async () => {
    const regs = await registerNodes(server, 100, "racer");
    const task = await createTask(server, { description: "only one may have it" });

    const results = await Promise.all(regs.map((reg, i) => claim(server, task.id, reg, `worker-${i}`)));

    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    const won = winners[0]!.body.data;
    const i = results.indexOf(winners[0]!);
    expect(won.claimed_by).toBe(`worker-${i}@racer-${i}`);

    const losers = results.filter((r) => r.status !== 200);
    expect(losers).toHaveLength(99);
    for (const r of losers) {
      const details = expectError(r, 409, "TASK_CLAIMED");
      expect(details).toEqual({ task_id: won.id, claimed_by: won.claimed_by, claimed_at: won.claimed_at });
    }

    const stored = await getTask(server, task.id);
    expect(stored).toMatchObject({ status: "claimed", claimed_by: won.claimed_by, attempts: 1 });
    const claimedEvents = (await allEvents(server)).filter((e) => e.type === "task.claimed");
    expect(claimedEvents).toHaveLength(1);
    expect(claimedEvents[0]!.data).toMatchObject({ task_id: task.id, claimed_by: won.claimed_by });
    // Only the winner holds a claim.
    const nodes = okData(await server.api("GET", "/nodes", { token: TOKENS.read })).nodes as any[];
    expect(nodes.filter((n) => n.claimed_tasks.length > 0).map((n) => n.id)).toEqual([`racer-${i}`]);
  });

  it("a second claim by the holder itself is also TASK_CLAIMED and does not count an attempt", async () => {
    const reg = await registerNode(server, "machine-b");
    const task = await createTask(server, {});
    okData(await claim(server, task.id, reg, "worker-1"));
    expectError(await claim(server, task.id, reg, "worker-2"), 409, "TASK_CLAIMED");
    expect(await getTask(server, task.id)).toMatchObject({ attempts: 1, claimed_by: "worker-1@machine-b" });
    expect((await getNode(server, "machine-b")).claimed_tasks).toEqual([task.id]);
  });
});

describe("long-polled POST /tasks/claim", () => {
  it("50 nodes polling while 200 tasks appear: every task claimed exactly once, no node over max_workers", async () => {
    const NODES = 50;
    const TASKS = 200;
    const MAX_WORKERS = 2;
    // Three loops per node against max_workers 2: the coordinator, not the client, must hold the limit.
    const LOOPS_PER_NODE = 3;
    const regs = await registerNodes(server, NODES, "pool", { maxWorkers: MAX_WORKERS });
    const before = (await allEvents(server)).length;

    let completed = 0;
    const claimedBy = new Map<string, string>();
    const unexpected: unknown[] = [];

    async function loop(reg: string, node: string, worker: string): Promise<void> {
      while (completed < TASKS) {
        const res = await claimNext(server, reg, { worker, wait_seconds: 1 });
        if (res.status === 409 && res.body.code === "NODE_AT_CAPACITY") {
          await sleep(10);
          continue;
        }
        if (res.status !== 200) {
          unexpected.push(res.body);
          return;
        }
        const task = res.body.data.task;
        if (!task) continue;
        if (claimedBy.has(task.id)) unexpected.push({ duplicate: task.id, first: claimedBy.get(task.id), second: `${worker}@${node}` });
        claimedBy.set(task.id, `${worker}@${node}`);
        await sleep(Math.random() * 5); // the worker works a little
        const done = await finish(server, "complete", task.id, reg, { pr: "#1" });
        if (done.status !== 200) unexpected.push(done.body);
        completed++;
      }
    }

    const loops = regs.flatMap((reg, n) => Array.from({ length: LOOPS_PER_NODE }, (_, w) => loop(reg, `pool-${n}`, `worker-${w}`)));
    await polling(regs.length * LOOPS_PER_NODE); // every loop's first poll waits
    const ids: string[] = [];
    for (let b = 0; b < TASKS; b += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, k) => createTask(server, { description: `job ${b + k}` })));
      ids.push(...batch.map((t) => t.id));
    }
    await Promise.all(loops);

    expect(unexpected).toEqual([]);
    expect(completed).toBe(TASKS);
    expect(new Set(claimedBy.keys())).toEqual(new Set(ids));

    // The log: each task claimed once and completed once; per node, claims held never above max_workers.
    const events = (await allEvents(server)).slice(before);
    const claims = new Map<string, number>();
    const held = new Map<string, number>();
    let maxHeld = 0;
    for (const e of events) {
      if (e.type === "task.claimed") {
        claims.set(e.data.task_id, (claims.get(e.data.task_id) ?? 0) + 1);
        const h = (held.get(e.data.node_id) ?? 0) + 1;
        held.set(e.data.node_id, h);
        maxHeld = Math.max(maxHeld, h);
      } else if (e.type === "task.completed" || e.type === "task.released" || e.type === "task.failed") {
        held.set(e.data.node_id, held.get(e.data.node_id)! - 1);
      }
    }
    expect(claims.size).toBe(TASKS);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(maxHeld).toBeLessThanOrEqual(MAX_WORKERS);
    expect(events.filter((e) => e.type === "task.completed")).toHaveLength(TASKS);
    expect(events.filter((e) => e.type === "task.released" || e.type === "task.failed" || e.type === "task.orphaned")).toEqual([]);

    // The records agree.
    const records = await Promise.all(ids.map((id) => getTask(server, id)));
    for (const t of records) {
      expect(t.status).toBe("completed");
      expect(t.attempts).toBe(1);
      expect(t.claimed_by).toBe(claimedBy.get(t.id));
    }
    const nodes = okData(await server.api("GET", "/nodes", { token: TOKENS.read })).nodes as any[];
    expect(nodes.every((n) => n.claimed_tasks.length === 0)).toBe(true);
  });

  it("claims in order: priority first (critical > high > medium > low), then oldest", async () => {
    const reg = await registerNode(server, "machine-b", { maxWorkers: 10 });
    const order: Array<[string, string]> = [
      ["low", "low-1"],
      ["high", "high-old"],
      ["medium", "medium-1"],
      ["critical", "critical-1"],
      ["high", "high-new"],
      ["low", "low-2"],
    ];
    for (const [priority, description] of order) {
      await createTask(server, { priority, description });
      clock.advance(1000);
    }
    const expected = ["critical-1", "high-old", "high-new", "medium-1", "low-1", "low-2"];

    const pending = okData(await server.api("GET", "/tasks/pending", { token: TOKENS.read })).tasks as any[];
    expect(pending.map((t) => t.description)).toEqual(expected);

    const got: string[] = [];
    for (let i = 0; i < expected.length; i++) got.push(okData(await claimNext(server, reg, { worker: `w${i}` })).task.description);
    expect(got).toEqual(expected);
    expect(okData(await claimNext(server, reg, { worker: "w-last" }))).toEqual({ task: null });
  });

  it("an orphaned old task comes before a newer pending one of the same priority", async () => {
    const regA = await registerNode(server, "machine-a");
    const regB = await registerNode(server, "machine-b");
    const old = await createTask(server, { description: "old" });
    okData(await claim(server, old.id, regA));
    clock.advance(1000);
    await createTask(server, { description: "new" });
    clock.advance(300_001);
    okData(await heartbeat(server, regB));
    await server.coordinator.sweep();
    expect((await getTask(server, old.id)).status).toBe("orphaned");
    expect(okData(await claimNext(server, regB)).task.description).toBe("old");
  });

  it("a long poll answers {task: null} once its wait is over, and ignores tasks the node cannot take", async () => {
    const reg = await registerNode(server, "cpu-node", { labels: { pool: "cpu" } });
    const started = Date.now();
    let answeredAt = 0;
    const poll = claimNext(server, reg, { wait_seconds: 0.5 }).then((r) => {
      answeredAt = Date.now();
      return r;
    });
    await polling(1);
    const gpu = await createTask(server, { labels: { pool: "gpu" } });
    const res = await poll;
    expect(okData(res)).toEqual({ task: null });
    // It waited out its half second: the gpu task did not end the wait early. (Not "still
    // unanswered 50 ms after the create": a stalled test process can pass the 0.5 s before that.)
    expect(answeredAt - started).toBeGreaterThanOrEqual(450);
    expect((await getTask(server, gpu.id)).status).toBe("pending");
    expect((await getNode(server, "cpu-node")).claimed_tasks).toEqual([]);
  });

  it("a long poll limited to a repo waits past other repos' tasks", async () => {
    const reg = await registerNode(server, "machine-b");
    const poll = claimNext(server, reg, { wait_seconds: 20, repo: "wanted" });
    await polling(1);
    const other = await createTask(server, { repo: "unwanted" });
    const wanted = await createTask(server, { repo: "wanted" });
    const res = await Promise.race([poll, sleep(5000).then(() => "still waiting" as const)]);
    expect(res).not.toBe("still waiting");
    expect(okData(res as any).task.id).toBe(wanted.id);
    expect((await getTask(server, other.id)).status).toBe("pending");
  });

  it("a long poll is answered as soon as a fitting task appears, well before its wait ends", async () => {
    const reg = await registerNode(server, "gpu-node", { labels: { pool: "gpu" } });
    const WAIT_SECONDS = 20;
    const poll = claimNext(server, reg, { wait_seconds: WAIT_SECONDS, worker: "worker-3" });
    await polling(1);
    const task = await createTask(server, { labels: { pool: "gpu" }, priority: "high" });
    const res = await Promise.race([poll, sleep(5000).then(() => "still waiting" as const)]);
    expect(res).not.toBe("still waiting");
    expect(okData(res as any).task).toMatchObject({ id: task.id, status: "claimed", claimed_by: "worker-3@gpu-node" });
  });

  it("five idle nodes polling and one task: exactly one node gets it, the others keep waiting for the next ones", async () => {
    const regs = await registerNodes(server, 5, "idle");
    const answers: Array<any> = [];
    const polls = regs.map((reg, i) => claimNext(server, reg, { wait_seconds: 20, worker: `w${i}` }).then((r) => answers.push(r)));
    await polling(5);
    const first = await createTask(server, { description: "first" });
    await new Promise<void>((resolve) => {
      const t = setInterval(() => answers.length >= 1 && (clearInterval(t), resolve()), 5);
    });
    await sleep(100);
    expect(answers).toHaveLength(1);
    expect(okData(answers[0]).task.id).toBe(first.id);

    const rest = await Promise.all(Array.from({ length: 4 }, (_, i) => createTask(server, { description: `next-${i}` })));
    await Promise.race([Promise.all(polls), sleep(5000)]);
    expect(answers).toHaveLength(5);
    const got = answers.map((r) => okData(r).task.id).sort();
    expect(got).toEqual([first.id, ...rest.map((t) => t.id)].sort());
  });

  it("closing the server answers open long polls at once instead of leaving them hanging", async () => {
    const regs = await registerNodes(server, 3, "waiting");
    const polls = regs.map((reg) => claimNext(server, reg, { wait_seconds: 20 }).then((r) => r, (e: unknown) => e));
    const pending = server.api("GET", "/tasks/pending?wait_seconds=20", { token: TOKENS.read }).then((r) => r, (e: unknown) => e);
    await polling(4);
    const closed = server.close();
    const result = await Promise.race([Promise.all([...polls, pending, closed]), sleep(5000).then(() => "hung" as const)]);
    expect(result).not.toBe("hung");
    const answers = (result as any[]).slice(0, 4);
    const shown = answers.map((r) => (r instanceof Error ? "connection closed" : `${r.status} ${JSON.stringify(r.body)}`));
    for (const [i, r] of answers.entries()) {
      // The empty answer, or 503 UNAVAILABLE in the envelope (or the connection closed); never a claim, never a 500.
      if (r instanceof Error) continue;
      if (r.status === 503) {
        expect(r.body.code, shown[i]).toBe("UNAVAILABLE");
        continue;
      }
      expect(r.status, shown[i]).toBe(200);
      expect(r.body.data, shown[i]).toEqual(i < 3 ? { task: null } : { tasks: [] });
    }
    server = await startTestServer(); // for afterEach
  });

  it("a poller that disconnects while waiting does not take a task", async () => {
    const reg = await registerNode(server, "gone-node");
    const ac = new AbortController();
    const poll = fetch(`${server.url}/api/v1/tasks/claim`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS.node}`, "content-type": "application/json" },
      body: JSON.stringify({ registration_id: reg, worker_name: "w", wait_seconds: 20 }),
      signal: ac.signal,
    }).catch(() => "aborted");
    await polling(1);
    ac.abort();
    expect(await poll).toBe("aborted");
    while (server.coordinator.longPolls > 0) await sleep(5); // the server saw it go
    const task = await createTask(server, {});
    await sleep(50);
    expect((await getTask(server, task.id)).status).toBe("pending");
    expect((await getNode(server, "gone-node")).claimed_tasks).toEqual([]);
  });
});

describe("claim refusals", () => {
  it("NODE_AT_CAPACITY once the node holds max_workers claims, by id and by /tasks/claim (at once, even with wait_seconds)", async () => {
    const reg = await registerNode(server, "small", { maxWorkers: 2 });
    const [a, b, c] = [await createTask(server, {}), await createTask(server, {}), await createTask(server, {})];
    okData(await claim(server, a.id, reg, "w1"));
    okData(await claim(server, b.id, reg, "w2"));

    const details = expectError(await claim(server, c.id, reg, "w3"), 409, "NODE_AT_CAPACITY");
    expect(details).toMatchObject({ node_id: "small", max_workers: 2 });
    expect([...details.claimed_tasks].sort()).toEqual([a.id, b.id].sort());
    const res = await Promise.race([claimNext(server, reg, { worker: "w3", wait_seconds: 20 }), sleep(5000).then(() => null)]);
    expect(res).not.toBeNull();
    expectError(res!, 409, "NODE_AT_CAPACITY");
    expect((await getTask(server, c.id)).status).toBe("pending");

    okData(await finish(server, "complete", a.id, reg));
    expect(okData(await claim(server, c.id, reg, "w3")).status).toBe("claimed");
  });

  it("capacity holds under concurrency: 30 workers of one node (max_workers 3) claiming 30 tasks at once get exactly 3", async () => {
    const reg = await registerNode(server, "busy", { maxWorkers: 3 });
    const tasks = await Promise.all(Array.from({ length: 30 }, (_, i) => createTask(server, { description: `c${i}` })));
    const results = await Promise.all([
      ...tasks.slice(0, 15).map((t, i) => claim(server, t.id, reg, `w${i}`)),
      ...Array.from({ length: 15 }, (_, i) => claimNext(server, reg, { worker: `n${i}` })),
    ]);
    const won = results.filter((r) => r.status === 200 && (r.body.data.task !== null || r.body.data.id));
    expect(won).toHaveLength(3);
    for (const r of results.filter((x) => !won.includes(x))) expectError(r, 409, "NODE_AT_CAPACITY");
    expect((await getNode(server, "busy")).claimed_tasks).toHaveLength(3);
    const status = okData(await server.api("GET", "/status", { token: TOKENS.read }));
    expect(status.tasks).toMatchObject({ claimed: 3, pending: 27 });
  });

  it("a node registered with max_workers 0 never gets work", async () => {
    const reg = await registerNode(server, "observer", { maxWorkers: 0 });
    const t = await createTask(server, {});
    expectError(await claim(server, t.id, reg), 409, "NODE_AT_CAPACITY");
    expectError(await claimNext(server, reg), 409, "NODE_AT_CAPACITY");
  });

  it("LABELS_NOT_SATISFIED names what the node lacks", async () => {
    const reg = await registerNode(server, "cpu-node", { labels: { pool: "cpu", region: "us" } });
    const t = await createTask(server, { labels: { pool: "gpu", region: "us" } });
    const details = expectError(await claim(server, t.id, reg), 409, "LABELS_NOT_SATISFIED");
    expect(details).toMatchObject({ required: { pool: "gpu", region: "us" }, missing: { pool: "gpu" } });
    expect((await getTask(server, t.id)).status).toBe("pending");
  });

  it("NODE_OFFLINE for a draining node, until it reports healthy again", async () => {
    const reg = await registerNode(server, "drainer");
    const t = await createTask(server, {});
    okData(await heartbeat(server, reg, { status: "draining" }));
    expect(expectError(await claim(server, t.id, reg), 409, "NODE_OFFLINE")).toMatchObject({ node_id: "drainer", health: "draining" });
    expectError(await claimNext(server, reg, { wait_seconds: 0 }), 409, "NODE_OFFLINE");
    expect((await getTask(server, t.id)).status).toBe("pending");
    okData(await heartbeat(server, reg, { status: "healthy" }));
    okData(await claim(server, t.id, reg));
  });

  it("NODE_OFFLINE for a node that went offline, until its next heartbeat", async () => {
    const reg = await registerNode(server, "sleeper");
    const t = await createTask(server, {});
    clock.advance(90_001);
    await server.coordinator.sweep();
    expect((await getNode(server, "sleeper")).status).toBe("offline");
    expect(expectError(await claim(server, t.id, reg), 409, "NODE_OFFLINE")).toMatchObject({ node_id: "sleeper", status: "offline" });
    expectError(await claimNext(server, reg), 409, "NODE_OFFLINE");
    okData(await heartbeat(server, reg));
    okData(await claim(server, t.id, reg));
  });

  it("TASK_NOT_CLAIMABLE for completed, failed and cancelled tasks; TASK_NOT_FOUND for unknown ids", async () => {
    const reg = await registerNode(server, "machine-b");
    const done = await createTask(server, { description: "done" });
    okData(await claim(server, done.id, reg));
    okData(await finish(server, "complete", done.id, reg));
    const failed = await createTask(server, { description: "failed" });
    okData(await claim(server, failed.id, reg));
    okData(await finish(server, "fail", failed.id, reg, { reason: "broken", retry: false }));
    const cancelled = await createTask(server, { description: "cancelled" });
    okData(await server.api("POST", `/tasks/${cancelled.id}/cancel`, { token: TOKENS.admin, body: { reason: "not needed" } }));

    for (const [t, status] of [
      [done, "completed"],
      [failed, "failed"],
      [cancelled, "cancelled"],
    ] as const) {
      expect(expectError(await claim(server, t.id, reg), 409, "TASK_NOT_CLAIMABLE")).toMatchObject({ task_id: t.id, status });
    }
    expectError(await claim(server, "task-doesnotexist", reg), 404, "TASK_NOT_FOUND");
    expectError(await claim(server, done.id, "reg-unknown"), 404, "REGISTRATION_NOT_FOUND");
  });
});
