/**
 * An agent SIGKILLed at each step of a task (just claimed, its worker starting, running, finished
 * but not reported) and started again, before and after its lease ran out, with a second node
 * ready to take what is given back. Afterwards the task was completed exactly once, no worker of
 * it is left running, and no node holds a claim on a task that nothing runs.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { isPidAlive } from "../../src/agent/multiclaude-state.js";
import {
  allEvents,
  ensureBuilt,
  FAKE_MC,
  killFakeWorkers,
  mcState,
  removeDirs,
  startAgent,
  startServe,
  waitFor,
} from "../fixtures/agent-harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Step = "claimed" | "starting" | "running" | "finished";

/** The live workers running `text` in a HOME (multiclaude lists them and their process runs). */
function liveWorkers(home: string, text: string): string[] {
  const agents = mcState(home).repos.app?.agents ?? {};
  return Object.entries<any>(agents)
    .filter(([, a]) => a.type === "worker" && a.task === text && isPidAlive(a.pid) !== false)
    .map(([name]) => name);
}

/** Finishes a worker as its Claude would: `multiclaude agent complete` in its worktree. */
function finish(home: string, worker: string, summary: string): void {
  const agent = mcState(home).repos.app?.agents?.[worker];
  if (!agent) return;
  execFileSync(FAKE_MC, ["agent", "complete", "--summary", summary], { cwd: agent.worktree_path, env: { ...process.env, HOME: home }, stdio: "pipe" });
}

/** The worker the agent's ledger says runs a task. */
function ledgerWorker(home: string, taskId: string): string | undefined {
  try {
    const ledger = JSON.parse(readFileSync(join(home, ".multiclaude", "coordination-agent-node-a.json"), "utf8"));
    return ledger.tasks.find((e: any) => e.task.id === taskId)?.worker;
  } catch {
    return undefined;
  }
}

async function scenario(step: Step, afterLease: boolean): Promise<void> {
  // A lease that a loaded machine cannot outrun by accident when the restart must come within it.
  const serve = await startServe({ claimTimeout: afterLease ? "2s" : "60s", offlineThreshold: "1s", heartbeatInterval: "250ms" });
  cleanups.push(() => serve.stop());
  const text = `restart at ${step}${afterLease ? " after the lease" : ""}`;
  // node-a's workers work until finished by hand (a stray one would run forever), its start
  // takes 2 s like the real one's.
  const env = { FAKE_MC_START_MS: "2000" };
  const start = (home?: string) => startAgent({ nodeId: "node-a", url: serve.url, home, maxWorkers: 1, workMs: 600_000, env });
  const a = start();
  cleanups.push(() => killFakeWorkers(a.home));
  cleanups.push(() => removeDirs([a.home]));
  await a.waitForLog("agent.registered");
  const task = await serve.admin.createTask({ repo: "app", description: text });

  await a.waitForLog("task.claimed", (l) => l.task_id === task.id);
  if (step === "starting") await waitFor(() => liveWorkers(a.home, text).length === 1, "the worker to appear in state.json");
  if (step === "running" || step === "finished") await a.waitForLog("worker.started", (l) => l.task_id === task.id);
  a.kill("SIGKILL");
  await a.exited;
  if (step === "starting") expect(a.logs().some((l) => l.event === "worker.started")).toBe(false);
  if (step === "finished") {
    // The worker finishes while its agent is down: multiclaude records it, nobody reports it yet.
    finish(a.home, liveWorkers(a.home, text)[0]!, "finished while the agent was down");
  }

  // node-b stands by for anything that is given back or orphaned.
  const b = startAgent({ nodeId: "node-b", url: serve.url, maxWorkers: 1, workMs: 300 });
  cleanups.push(async () => {
    b.kill("SIGKILL");
    await b.exited;
    killFakeWorkers(b.home);
    removeDirs([b.home]);
  });
  if (afterLease) {
    await waitFor(async () => (await allEvents(serve.admin)).some((e) => e.type === "task.orphaned" && e.data.task_id === task.id), "the lease to run out", 20_000, 100);
  }
  const again = start(a.home);
  cleanups.push(async () => {
    again.kill("SIGKILL");
    await again.exited;
  });

  // The worker node-a's agent runs the task with now (adopted, or started again) finishes on cue;
  // any other worker of it on node-a is a stray that only the agent can stop.
  const done = await waitFor(async () => {
    const t = await serve.admin.getTask(task.id);
    if (t.status === "completed") return t;
    const mine = ledgerWorker(a.home, task.id);
    if (t.claimed_node === "node-a" && t.status === "claimed" && mine && liveWorkers(a.home, text).includes(mine)) finish(a.home, mine, "done after the restart");
    return undefined;
  }, "the task to complete", 30_000, 200);
  // Nothing of it runs on any more, and no claim is left on a node.
  await waitFor(() => liveWorkers(a.home, text).length + liveWorkers(b.home, text).length === 0, "no worker of the task left running", 15_000);
  await waitFor(async () => (await serve.admin.listNodes()).every((n) => n.claimed_tasks.length === 0), "no claims left", 10_000);
  const events = await allEvents(serve.admin);
  expect(events.filter((e) => e.type === "task.completed" && e.data.task_id === task.id)).toHaveLength(1);
  // Within the lease the late result is reported; after it another node may have done the task again.
  if (step === "finished" && !afterLease) expect(done.result?.summary).toBe("finished while the agent was down");
  // A node's heartbeats never claim more workers than it has claims.
  for (const n of await serve.admin.listNodes()) expect(n.capacity.current_workers).toBeLessThanOrEqual(n.capacity.max_workers);
}

describe("agent restart: no task runs twice, none is lost", () => {
  beforeAll(() => ensureBuilt(), 120_000);
  for (const step of ["claimed", "starting", "running", "finished"] as const) {
    it(`SIGKILL while ${step}, restarted within the lease`, () => scenario(step, false), 90_000);
  }
  for (const step of ["claimed", "running", "finished"] as const) {
    it(`SIGKILL while ${step}, restarted after the lease ran out (another node may have taken it)`, () => scenario(step, true), 90_000);
  }
});
