/**
 * The coordinator announces a cancelled task in `cancelled_task_ids` of several heartbeat
 * answers in a row (a lost answer must not hide a cancellation), so handling an announcement
 * is idempotent: the worker is stopped once, and a task already stopped, never held, released
 * or finished is left alone without a log line.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "../../src/client/client.js";
import type { Task } from "../../src/core/types.js";
import type { AgentContext, HeldTask } from "../../src/agent/context.js";
import type { AgentOptions } from "../../src/agent/options.js";
import type { RepoMap } from "../../src/agent/repo-map.js";
import { cancelTasks, startWorker } from "../../src/agent/task-runner.js";

const dir = mkdtempSync(join(tmpdir(), "mcc-cancel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `worker rm NAME` stand-in: records NAME and removes the agent from the test's state, taking
 * 100ms (long enough for announcements to overlap).
 */
const STOP_SCRIPT = "require('node:fs').appendFileSync(process.argv[1], process.argv[2] + '\\n'); setTimeout(() => {}, 100);";

interface Line {
  level: string;
  event: string;
}

function task(id: string): Task {
  return { id, repo: "app", description: `do ${id}`, priority: "medium", labels: {}, status: "claimed", attempts: 1 } as unknown as Task;
}

describe("cancelTasks (announcements repeated by heartbeats)", () => {
  let stops: string;
  let lines: Line[];
  let ctx: AgentContext;
  let n = 0;
  /** Workers state.json lists beside the held ones (a start that created one). */
  let listed: string[] = [];

  const hold = (id: string, phase: HeldTask["phase"], extra: Partial<HeldTask> = {}): HeldTask => {
    const held: HeldTask = { task: task(id), slot: `slot-${ctx.held.size + 1}`, localRepo: "app", worker: `w-${id}`, startedAt: 0, phase, ...extra };
    ctx.held.set(id, held);
    return held;
  };
  const stopped = (): string[] => {
    try {
      return readFileSync(stops, "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  };

  beforeEach(() => {
    stops = join(dir, `stops-${++n}.log`);
    lines = [];
    const options = {
      nodeId: "node-a",
      stopCommand: [process.execPath, "-e", STOP_SCRIPT, stops, "{worker}"],
      commandTimeoutMs: 10_000,
    } as unknown as AgentOptions;
    // state.json as the stop command leaves it: every worker it stopped is gone.
    const state = () => {
      const gone = new Set(stopped());
      const agents = Object.fromEntries([...ctx.held.values()].filter((h) => h.worker && !gone.has(h.worker)).map((h) => [h.worker!, { type: "worker", task: h.task.description }]));
      for (const extra of listed) if (!gone.has(extra)) agents[extra] = { type: "worker", task: `do ${extra.slice(2)}` };
      return { repos: { app: { agents } } };
    };
    listed = [];
    ctx = {
      options,
      client: { releaseTask: async () => ({}) } as unknown as Client,
      log: { log: (level, event) => lines.push({ level, event }) },
      held: new Map(),
      repos: { toLocal: (r: string) => r, toCoord: (r: string) => r } as RepoMap,
      env: process.env,
      now: () => Date.now(),
      state,
      readState: state,
      changed: () => {},
      startFailed: () => {},
      startSucceeded: () => {},
    };
  });

  it("stops a running worker once, however often the cancellation is announced", async () => {
    hold("t1", "running");
    await cancelTasks(ctx, ["t1"]);
    expect(stopped()).toEqual(["w-t1"]);
    expect(ctx.held.size).toBe(0);
    expect(lines).toEqual([
      { level: "info", event: "task.cancelled" },
      { level: "info", event: "worker.stopped" },
    ]);
    await cancelTasks(ctx, ["t1"]);
    await cancelTasks(ctx, ["t1", "t1"]);
    expect(stopped()).toEqual(["w-t1"]);
    expect(lines).toHaveLength(2);
  });

  it("stops once when announcements overlap (the next heartbeat answers while the stop command runs)", async () => {
    hold("t1", "running");
    hold("t2", "running");
    await Promise.all([cancelTasks(ctx, ["t1", "t2"]), cancelTasks(ctx, ["t2", "t1"]), cancelTasks(ctx, ["t1"])]);
    expect(stopped().sort()).toEqual(["w-t1", "w-t2"]);
    expect(lines.filter((l) => l.event === "task.cancelled")).toHaveLength(2);
    expect(lines.filter((l) => l.event === "worker.stopped")).toHaveLength(2);
    expect(ctx.held.size).toBe(0);
  });

  it("ignores tasks it never held, and tasks it is already releasing", async () => {
    const releasing = hold("t3", "stopping");
    await cancelTasks(ctx, ["never-here", "t3", "never-here"]);
    expect(stopped()).toEqual([]);
    expect(lines).toEqual([]);
    expect(ctx.held.get("t3")).toBe(releasing); // releaseHeld owns it
  });

  it("marks a starting worker once, without stopping anything yet (the start stops it once it has a name)", async () => {
    const starting = hold("t4", "starting", { worker: undefined });
    await cancelTasks(ctx, ["t4"]);
    await cancelTasks(ctx, ["t4"]);
    expect(starting.cancelRequested).toBe(true);
    expect(starting.phase).toBe("starting");
    expect(stopped()).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("stops a worker cancelled while starting once it has a name, and only once", async () => {
    const held = hold("t6", "starting", { worker: undefined });
    listed = ["w-t6"];
    (ctx.options as { command: string[] }).command = [process.execPath, "-e", "setTimeout(() => console.log(\"Creating worker 'w-t6' in repo 'app'\"), 100)"];
    const start = startWorker(ctx, held);
    await cancelTasks(ctx, ["t6"]);
    await cancelTasks(ctx, ["t6"]);
    await start;
    await cancelTasks(ctx, ["t6"]);
    expect(stopped()).toEqual(["w-t6"]);
    expect(lines.map((l) => l.event)).toEqual(["worker.started", "task.cancelled", "worker.stopped"]);
    expect(ctx.held.size).toBe(0);
  });

  it("forgets a task cancelled while its worker failed to start, without a failure report", async () => {
    const held = hold("t7", "starting", { worker: undefined });
    (ctx.options as { command: string[] }).command = [process.execPath, "-e", "setTimeout(() => process.exit(1), 100)"];
    const start = startWorker(ctx, held);
    await cancelTasks(ctx, ["t7"]);
    await start;
    await cancelTasks(ctx, ["t7"]);
    expect(stopped()).toEqual([]);
    expect(lines).toEqual([{ level: "info", event: "task.cancelled" }]);
    expect(ctx.held.size).toBe(0);
  });

  it("drops the unreported result of a finished worker without trying to stop it, once", async () => {
    hold("t5", "reporting", { outcome: { kind: "complete", pr: "#7" } });
    await cancelTasks(ctx, ["t5"]);
    await cancelTasks(ctx, ["t5"]);
    expect(stopped()).toEqual([]);
    expect(ctx.held.size).toBe(0);
    expect(lines).toEqual([{ level: "info", event: "task.cancelled" }]);
  });
});
