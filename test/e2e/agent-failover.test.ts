/**
 * Failures around the agent: a node killed with SIGKILL mid-task (its claims orphan after the
 * lease and other nodes finish them), and a coordinator that restarts under a running agent.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  allEvents,
  ensureBuilt,
  mcState,
  removeDirs,
  startAgent,
  startServe,
  tempDir,
  waitFor,
  useCleanups,
} from "../fixtures/agent-harness.js";

const cleanups = useCleanups();
const { add, track } = cleanups;



describe("agent failover", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("tasks of a SIGKILLed agent are orphaned after the lease and finished by the other nodes", async () => {
    const serve = await startServe({ claimTimeout: "2s", offlineThreshold: "1s", heartbeatInterval: "500ms" });
    add(() => serve.stop());
    // node-a's workers would take a minute: it dies long before they finish.
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 2, workMs: 60_000 }));
    await a.waitForLog("agent.registered");
    const first = [
      await serve.admin.createTask({ repo: "app", description: "first job" }),
      await serve.admin.createTask({ repo: "app", description: "second job" }),
    ];
    await waitFor(() => a.logs().filter((l) => l.event === "worker.started").length === 2, "node-a to start both workers");
    a.kill("SIGKILL");
    await a.exited;

    const b = track(startAgent({ nodeId: "node-b", url: serve.url, maxWorkers: 2, workMs: 300 }));
    const c = track(startAgent({ nodeId: "node-c", url: serve.url, maxWorkers: 1, workMs: 300 }));
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await serve.admin.createTask({ repo: "app", description: `later job ${i}` }));

    const all = [...first, ...more];
    const done = await waitFor(
      async () => {
        const tasks = await Promise.all(all.map((t) => serve.admin.getTask(t.id)));
        return tasks.every((t) => t.status === "completed") ? tasks : undefined;
      },
      "all tasks to complete",
      30_000,
      200,
    );
    const events = await allEvents(serve.admin);
    for (const t of done) {
      expect(["node-b", "node-c"]).toContain(t.claimed_node);
      expect(t.result?.branch).toMatch(/^work\/[a-z]+-[a-z]+$/);
      expect(events.filter((e) => e.type === "task.completed" && e.data.task_id === t.id)).toHaveLength(1);
    }
    for (const t of first) {
      const mine = events.filter((e) => e.data.task_id === t.id).map((e) => `${e.type}@${String(e.data.node_id ?? "")}`);
      expect(mine).toContain("task.claimed@node-a");
      expect(mine).toContain("task.orphaned@node-a");
      // At least node-a's claim and the one that finished it (a loaded machine may orphan one more).
      expect(done.find((d) => d.id === t.id)!.attempts).toBeGreaterThanOrEqual(2);
    }
    expect(events.some((e) => e.type === "node.offline" && e.data.node_id === "node-a")).toBe(true);
    for (const p of [b, c]) p.kill("SIGTERM");
    expect((await b.exited).code).toBe(0);
    expect((await c.exited).code).toBe(0);
  }, 60_000);

  it("keeps its running work through a coordinator restart and reports it afterwards", async () => {
    const dir = tempDir("restart");
    add(() => removeDirs([dir]));
    const store = `sqlite://${join(dir, "coord.db")}`;
    let serve = await startServe({ claimTimeout: "30s", offlineThreshold: "5s", store });
    const port = serve.port;
    add(() => serve.stop());
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 2, workMs: 3000 }));
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "survive the outage" });
    await a.waitForLog("worker.started", (l) => l.task_id === task.id);

    await serve.stop();
    await a.waitForLog("coordinator.unreachable");
    // The worker finishes while the coordinator is away.
    await waitFor(() => (mcState(a.home).repos.app?.task_history ?? []).length === 1, "the worker to finish", 15_000);
    serve = await startServe({ claimTimeout: "30s", offlineThreshold: "5s", store, listen: `127.0.0.1:${port}` });

    const finished = await waitFor(async () => {
      const t = await serve.admin.getTask(task.id);
      return t.status === "completed" ? t : undefined;
    }, "the task to be completed after the restart", 30_000, 200);
    expect(finished.claimed_node).toBe("node-a");
    expect(finished.result?.branch).toMatch(/^work\//);
    await a.waitForLog("coordinator.reachable");
    expect(a.alive).toBe(true);

    // And it goes on taking work.
    const next = await serve.admin.createTask({ repo: "app", description: "after the outage" });
    await waitFor(async () => (await serve.admin.getTask(next.id)).status === "completed", "a new task to complete", 20_000, 200);
  }, 60_000);

  it("registers again with a coordinator that lost its state, and takes new work", async () => {
    let serve = await startServe({ claimTimeout: "30s", offlineThreshold: "5s" });
    const port = serve.port;
    add(() => serve.stop());
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 1, labels: { pool: "cpu" } }));
    await a.waitForLog("agent.registered");
    await serve.stop();
    serve = await startServe({ claimTimeout: "30s", offlineThreshold: "5s", listen: `127.0.0.1:${port}` });
    // The new coordinator (memory store) has never heard of node-a: its heartbeat gets
    // REGISTRATION_NOT_FOUND and the client registers again, labels and all.
    const node = await waitFor(async () => (await serve.admin.listNodes()).find((n) => n.id === "node-a" && n.status === "online"), "node-a to register again", 20_000, 100);
    expect(node.labels).toEqual({ pool: "cpu" });
    expect(node.capacity.max_workers).toBe(1);
    const task = await serve.admin.createTask({ repo: "app", description: "after amnesia", labels: { pool: "cpu" } });
    await waitFor(async () => (await serve.admin.getTask(task.id)).status === "completed", "the task to complete", 20_000, 200);
  }, 60_000);
});
