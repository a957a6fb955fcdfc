/**
 * SIGTERM/SIGINT: the agent drains (no new claims, heartbeats `draining`), lets running
 * workers finish within the grace period or releases what is left, deregisters and exits 0.
 * A second signal exits at once and leaves its claims to the lease, and to a restarted agent.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  allEvents,
  ensureBuilt,
  fakeCalls,
  mcState,
  startAgent,
  waitFor,
  useCleanups,
} from "../fixtures/agent-harness.js";
import { isPidAlive } from "../../src/agent/multiclaude-state.js";

const cleanups = useCleanups();
const { track } = cleanups;


const serveFor = () => cleanups.serve({ claimTimeout: "10s", offlineThreshold: "3s" });


describe("agent signals", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("SIGTERM drains: no new claims, running workers finish, then it deregisters and exits 0", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 2, workMs: 1500, extraArgs: ["--grace-period", "30s"] }));
    await a.waitForLog("agent.registered");
    const running = [await serve.admin.createTask({ repo: "app", description: "one" }), await serve.admin.createTask({ repo: "app", description: "two" })];
    await waitFor(() => a.logs().filter((l) => l.event === "worker.started").length === 2, "both workers to start");

    a.kill("SIGTERM");
    await a.waitForLog("agent.draining");
    // Created once it drains, while its workers still run: the slots they free must stay empty.
    // (Created before the signal, a loaded machine could finish a worker first, and the agent
    // rightly took one of them before it was told to drain.)
    const waiting = [await serve.admin.createTask({ repo: "app", description: "three" }), await serve.admin.createTask({ repo: "app", description: "four" })];
    const draining = await waitFor(async () => (await serve.admin.getNode("node-a")).health === "draining", "the node to report draining");
    expect(draining).toBe(true);
    const exit = await a.exited;
    expect(exit.code).toBe(0);

    for (const t of running) {
      const task = await serve.admin.getTask(t.id);
      expect(task.status).toBe("completed");
      // No gh here: completed with the branch multiclaude's history names, and no PR.
      expect(task.result).toMatchObject({ pr: null, branch: expect.stringMatching(/^work\/[a-z]+-[a-z]+$/) });
    }
    for (const t of waiting) expect((await serve.admin.getTask(t.id)).status).toBe("pending");
    const node = await serve.admin.getNode("node-a");
    expect(node.status).toBe("deregistered");
    expect(node.claimed_tasks).toEqual([]);
    const events = await allEvents(serve.admin);
    expect(events.filter((e) => e.type === "task.claimed" && e.data.node_id === "node-a")).toHaveLength(2);
    expect(a.logs().map((l) => l.event)).toEqual(expect.arrayContaining(["agent.drained", "agent.deregistered"]));
  }, 60_000);

  it("when the grace period runs out it stops the workers, releases their tasks and exits 0", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 1, workMs: 60_000, extraArgs: ["--grace-period", "1s"] }));
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "too slow" });
    const started = await a.waitForLog("worker.started", (l) => l.task_id === task.id);

    a.kill("SIGTERM");
    expect((await a.exited).code).toBe(0);
    const after = await serve.admin.getTask(task.id);
    expect(after.status).toBe("pending");
    expect(fakeCalls(a.home)).toContainEqual(["worker", "rm", "--repo", "app", String(started.worker)]);
    expect(mcState(a.home).repos.app.agents[String(started.worker)]).toBeUndefined();
    const events = await allEvents(serve.admin);
    expect(events.some((e) => e.type === "task.released" && e.data.task_id === task.id && e.data.node_id === "node-a")).toBe(true);
    expect((await serve.admin.getNode("node-a")).claimed_tasks).toEqual([]);
  }, 60_000);

  it("a second signal exits at once; a restarted agent picks its running worker up and reports it", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 1, workMs: 2500, extraArgs: ["--grace-period", "60s"] }), false);
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "outlive the agent" });
    const started = await a.waitForLog("worker.started", (l) => l.task_id === task.id);

    a.kill("SIGTERM");
    await a.waitForLog("agent.draining");
    a.kill("SIGINT");
    const exit = await a.exited;
    expect(exit.code).toBe(130);
    // Left claimed (to the lease), and remembered on disk.
    expect((await serve.admin.getTask(task.id)).status).toBe("claimed");
    expect(existsSync(join(a.home, ".multiclaude", "coordination-agent-node-a.json"))).toBe(true);

    const again = track(startAgent({ nodeId: "node-a", url: serve.url, home: a.home, maxWorkers: 1 }));
    await again.waitForLog("task.adopted", (l) => l.task_id === task.id && l.worker === started.worker);
    const done = await waitFor(async () => {
      const t = await serve.admin.getTask(task.id);
      return t.status === "completed" ? t : undefined;
    }, "the adopted task to complete", 20_000, 200);
    expect(done.attempts).toBe(1);
    expect(done.result?.branch).toBe(`work/${String(started.worker)}`);
    again.kill("SIGTERM");
    expect((await again.exited).code).toBe(0);
    expect(existsSync(join(a.home, ".multiclaude", "coordination-agent-node-a.json"))).toBe(false);
  }, 60_000);

  it("Ctrl-C in the agent's terminal (SIGINT to its process group) never reaches the workers it started", async () => {
    const serve = await serveFor();
    // A shell runs the agent as a foreground job: a process group of its own, which Ctrl-C signals whole.
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, maxWorkers: 2, workMs: 60_000, ownGroup: true, extraArgs: ["--grace-period", "60s"] }));
    await a.waitForLog("agent.registered");
    await serve.admin.createTask({ repo: "app", description: "long one" });
    await serve.admin.createTask({ repo: "app", description: "long two" });
    await waitFor(() => a.logs().filter((l) => l.event === "worker.started").length === 2, "both workers to start");
    const pids = Object.values<any>(mcState(a.home).repos.app.agents).filter((x) => x.type === "worker").map((x) => x.pid as number);
    expect(pids).toHaveLength(2);
    const alive = (pid: number) => isPidAlive(pid) === true; // a zombie is dead too

    process.kill(-a.child.pid!, "SIGINT"); // Ctrl-C
    await a.waitForLog("agent.draining");
    process.kill(-a.child.pid!, "SIGINT"); // Ctrl-C again: the agent leaves at once
    expect((await a.exited).code).toBe(130);
    // Give a signal that did reach them time to act, then check.
    await new Promise((r) => setTimeout(r, 300));
    expect(pids.map(alive)).toEqual([true, true]);
    expect(Object.keys(mcState(a.home).repos.app.agents).filter((n) => !["supervisor", "merge-queue", "default"].includes(n))).toHaveLength(2);
  }, 60_000);
});
