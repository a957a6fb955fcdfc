/**
 * Redis Sentinel failover with real processes: a primary, a replica and three sentinels
 * (test/helpers/redis-sentinel.ts), two real `serve` coordinators on a `redis+sentinel://` URL,
 * nodes claiming on both and a creator, all while the primary is SIGKILLed. Checked:
 * (a) what was answered 2xx before the kill is there after the failover (writes wait for the
 *     replica, `WAIT 1`), and every claim answered 200 at any time is in the log;
 * (b) each coordinator answers a claim again within 30 s of the kill;
 * (c) no task is claimed twice for one attempt, by the answers or by the log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../cli/harness.js";
import { api, cleanupTemp, NetError, ok, readAllEvents, readAllTasks, sleep, startCluster, type Answer } from "../helpers/cluster.js";
import { findRedisServer } from "../helpers/redis-server.js";
import { startSentinelDeployment, type SentinelDeployment } from "../helpers/redis-sentinel.js";
import type { ServeProcess } from "../helpers/serve-process.js";

const skip = !findRedisServer() && !process.env.CI;

const TASKS = 120;
const NODES = 6;
const WORKERS = 2;
const RESUME_BUDGET_MS = 30_000;

interface Claim {
  task: string;
  attempt: number;
  node: string;
  coord: number;
  at: number;
}

describe.skipIf(skip)("Redis Sentinel: the primary is killed while two coordinators work (real processes)", () => {
  let deployment: SentinelDeployment | undefined;
  let coords: ServeProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    deployment = await startSentinelDeployment();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(coords.map((c) => c.stop("SIGKILL")));
    await deployment?.stop();
    cleanupTemp();
  });

  it("keeps acknowledged writes, resumes within 30 s and claims no task twice", async () => {
    const d = deployment!;
    // Generous: a loaded 2-core machine may take a while to replicate.
    coords = await startCluster(d.url("?wait_timeout_ms=5000"), 2);
    const urls = coords.map((c) => c.url);
    const nodes: { id: string; reg: string; home: number }[] = [];
    for (let i = 0; i < NODES; i++) {
      const home = i % 2;
      const id = `sentinel-node-${i}`;
      nodes.push({ id, home, reg: (await ok(urls[home]!, "POST", "/register", { node_id: id, capacity: { max_workers: WORKERS } })).registration_id });
    }

    let killedAt = 0;
    let stopping = false;
    const created = new Map<string, { id: string; at: number }>();
    const claims: Claim[] = [];
    const completed = new Map<string, number>();
    const failures: string[] = [];
    const call = async (coord: number, method: string, path: string, body: unknown): Promise<Answer | undefined> => {
      try {
        const res = await api(urls[coord]!, method, path, body, 15_000);
        if (res.status >= 500 && res.status !== 503) failures.push(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
        return res.status === 503 ? undefined : res;
      } catch (err) {
        if (err instanceof NetError) return undefined;
        throw err;
      }
    };

    const creator = (async () => {
      for (let n = 0; n < TASKS && !stopping; n++) {
        const key = `sentinel-task-${n}`;
        for (let tries = 0; !stopping; tries++) {
          const res = await call(tries % 2, "POST", "/tasks", { repo: "r", description: `task ${n}`, idempotency_key: key });
          if (res && res.status < 300) {
            created.set(key, { id: res.body.data.id, at: Date.now() });
            break;
          }
          if (res) failures.push(`create ${key} → ${res.status} ${JSON.stringify(res.body)}`);
          await sleep(100);
        }
        await sleep(20);
      }
    })();

    const held = new Set<string>();
    const complete = async (node: (typeof nodes)[number], id: string) => {
      // A complete lost with the connection (503) is sent again; a 409 then says it went through.
      for (let tries = 0; tries < 50 && !stopping; tries++) {
        const done = await call(node.home, "POST", `/tasks/${id}/complete`, { registration_id: node.reg, summary: "ok" });
        if (done?.status === 200) completed.set(id, Date.now());
        if (done) return;
        await sleep(100);
      }
    };
    const worker = async (node: (typeof nodes)[number], w: number) => {
      while (!stopping) {
        const res = await call(node.home, "POST", "/tasks/claim", { registration_id: node.reg, worker_name: `w${w}`, wait_seconds: 1 });
        if (!res) {
          await sleep(100);
          continue;
        }
        if (res.status === 409 && res.body.code === "NODE_AT_CAPACITY") {
          // A claim whose answer was lost (503 during the failover) was made all the same: the
          // node finds it among its claims, as a real node does, and finishes it.
          const lost = (res.body.details.claimed_tasks as string[]).find((id) => !held.has(id));
          if (lost) {
            held.add(lost);
            await complete(node, lost);
          } else await sleep(100);
          continue;
        }
        const task = res.status === 200 ? res.body.data.task : null;
        if (!task) {
          if (res.status !== 200) failures.push(`claim → ${res.status} ${JSON.stringify(res.body)}`);
          continue;
        }
        held.add(task.id);
        claims.push({ task: task.id, attempt: task.attempts, node: node.id, coord: node.home, at: Date.now() });
        await sleep(30); // the work
        await complete(node, task.id);
      }
    };
    const workers = nodes.flatMap((node) => Array.from({ length: WORKERS }, (_, w) => worker(node, w)));

    const waitFor = async (what: string, cond: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (created ${created.size}, claims ${claims.length}, failures: ${failures.slice(0, 3).join("; ")})`);
        await sleep(50);
      }
    };
    const resumed = (coord: number) => claims.find((c) => c.coord === coord && c.at > killedAt);
    let before: { created: Set<string>; claims: Claim[]; completed: Set<string> };
    try {
      await waitFor("work before the kill", () => created.size >= 30 && claims.length >= 15 && completed.size >= 10, 60_000);
      const oldPrimary = await d.masterPort();
      expect(oldPrimary).toBe(d.primary.port);
      before = { created: new Set([...created.values()].map((c) => c.id)), claims: [...claims], completed: new Set(completed.keys()) };
      killedAt = Date.now();
      await d.primary.kill();

      await d.awaitFailover(oldPrimary, 60_000);
      await waitFor("claims on both coordinators after the kill", () => resumed(0) !== undefined && resumed(1) !== undefined, 60_000);
      await waitFor("the rest of the work", () => created.size === TASKS && claims.filter((c) => c.at > killedAt).length >= 30, 60_000);
    } finally {
      stopping = true;
      await Promise.all([creator, ...workers]);
    }

    expect(failures).toEqual([]);
    // (b) both coordinators answer claims again within the budget.
    for (const coord of [0, 1]) expect(resumed(coord)!.at - killedAt).toBeLessThan(RESUME_BUDGET_MS);

    const tasks = new Map((await readAllTasks(urls[0]!)).map((t) => [t.id, t]));
    const { events } = await readAllEvents(urls[0]!);
    const logged = events.filter((e) => e.type === "task.claimed").map((e) => `${e.data.task_id}#${e.data.attempt}@${e.data.node_id}`);
    // (a) acknowledged before the kill: the tasks, their claims and their completions.
    for (const id of before.created) expect(tasks.has(id), `task ${id} created before the kill`).toBe(true);
    for (const id of before.completed) expect(tasks.get(id)?.status, `task ${id} completed before the kill`).toBe("completed");
    // Every claim answered 200 (before, during or after) is in the log of the new primary.
    for (const c of claims) expect(logged, `claim of ${c.task} (attempt ${c.attempt}) by ${c.node}`).toContain(`${c.task}#${c.attempt}@${c.node}`);
    // (c) at most one claim per task and attempt, in the answers and in the log.
    const answered = claims.map((c) => `${c.task}#${c.attempt}`);
    expect(answered.length).toBe(new Set(answered).size);
    const perAttempt = logged.map((l) => l.split("@")[0]);
    expect(perAttempt.length).toBe(new Set(perAttempt).size);
    for (const id of completed.keys()) expect(tasks.get(id)?.status).toBe("completed");
  }, 300_000);
});
