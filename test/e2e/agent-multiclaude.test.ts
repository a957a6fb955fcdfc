/**
 * The agent against multiclaude as recorded (shared/multiclaude, through the stand-in that
 * replays it): a success is completed exactly once with its branch (and the PR gh finds), a
 * failure fails with multiclaude's reason, a cancelled worker with a dirty worktree is really
 * removed, a repo multiclaude has not initialised on a node is never claimed there, and a start
 * that fails is released without being handed straight back to the same node.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  allEvents,
  ensureBuilt,
  fakeCalls,
  mcInit,
  mcState,
  startAgent,
  waitFor,
  useCleanups,
} from "../fixtures/agent-harness.js";

const cleanups = useCleanups();
const { track } = cleanups;


const serveFor = () => cleanups.serve({ claimTimeout: "20s", offlineThreshold: "5s" });


async function finished(serve: Awaited<ReturnType<typeof serveFor>>, id: string, status: string) {
  return waitFor(async () => {
    const t = await serve.admin.getTask(id);
    return t.status === status ? t : undefined;
  }, `${id} to be ${status}`, 20_000, 100);
}

describe("the agent drives multiclaude as recorded", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("a worker that finishes normally (history `unknown`) completes its task once, with its branch and summary; without gh no PR", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 300 }));
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "Add a README section" });
    const done = await finished(serve, task.id, "completed");
    const [entry] = mcState(a.home).repos.app.task_history;
    expect(entry).toMatchObject({ status: "unknown", task: "Add a README section" });
    expect(done.result).toEqual({ pr: null, branch: entry.branch, summary: "done: Add a README section" });
    expect(done.attempts).toBe(1);
    // Give a wrong "failure" and a re-run time to show up: there must be neither.
    await a.waitForLog("task.completed", (l) => l.task_id === task.id);
    await new Promise((r) => setTimeout(r, 500));
    const events = (await allEvents(serve.admin)).filter((e) => e.data.task_id === task.id).map((e) => e.type);
    expect(events).toEqual(["task.created", "task.claimed", "task.completed"]);
    expect(fakeCalls(a.home).filter((c) => c[0] === "work")).toHaveLength(1);
  }, 60_000);

  it("with gh logged in the PR of the branch is looked up; a worker killed without a summary still completes, saying so", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 300, gh: true }));
    await a.waitForLog("agent.registered");
    const withPr = await serve.admin.createTask({ repo: "app", description: "Open a PR" });
    const pr = await finished(serve, withPr.id, "completed");
    expect(pr.result?.pr).toMatch(/^https:\/\/github\.com\/example\/app\/pull\/\d+$/);
    expect(pr.result?.branch).toMatch(/^work\//);
    const silent = await serve.admin.createTask({ repo: "app", description: "Leave no NOSUMMARY" });
    expect((await finished(serve, silent.id, "completed")).result?.summary).toBe("worker ended without a summary");
  }, 60_000);

  it("gh without a login: tasks complete with their branch and no PR, and the agent says why once", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 200, gh: true, env: { FAKE_GH: "unauthenticated" } }));
    await a.waitForLog("agent.registered");
    const one = await serve.admin.createTask({ repo: "app", description: "first" });
    const two = await serve.admin.createTask({ repo: "app", description: "second" });
    for (const t of [one, two]) expect((await finished(serve, t.id, "completed")).result).toMatchObject({ pr: null, branch: expect.stringMatching(/^work\//) });
    const notes = a.logs().filter((l) => l.event === "pr.lookup_unavailable");
    expect(notes).toHaveLength(1);
    expect(notes[0]!.msg).toContain("gh auth login");
  }, 60_000);

  it("a failed worker (history `failed`) fails its task with multiclaude's failure reason", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 200 }));
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "this will FAIL", max_attempts: 1 });
    expect((await finished(serve, task.id, "failed")).failure_reason).toBe("tests kept failing (fake)");
  }, 60_000);

  it("cancelling a task whose worker has uncommitted files removes the worker (worker rm's prompts answered yes)", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 60_000 }));
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "make a mess" });
    const started = await a.waitForLog("worker.started", (l) => l.task_id === task.id);
    const worker = String(started.worker);
    const worktree = mcState(a.home).repos.app.agents[worker].worktree_path as string;
    writeFileSync(join(worktree, "uncommitted.txt"), "work in progress\n");
    writeFileSync(join(worktree, ".fake-unpushed"), "1\n");
    await serve.admin.cancelTask(task.id, { reason: "not needed" });
    await a.waitForLog("worker.stopped", (l) => l.task_id === task.id);
    expect(mcState(a.home).repos.app.agents[worker]).toBeUndefined();
    expect(fakeCalls(a.home)).toContainEqual(["worker", "rm", "--repo", "app", worker]);
  }, 60_000);

  it("a worker that cannot be stopped (`Cleanup cancelled`) is reported, not taken for stopped", async () => {
    const serve = await serveFor();
    // A stop command that answers no to every question, as worker rm does on EOF.
    const a = track(
      startAgent({
        nodeId: "node-a",
        url: serve.url,
        workMs: 60_000,
        config: ["coordination:", "  agent:", '    stop_command: ["sh", "-c", "multiclaude worker rm --repo {repo} {worker} </dev/null"]', ""].join("\n"),
      }),
    );
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "dirty and stuck" });
    const started = await a.waitForLog("worker.started", (l) => l.task_id === task.id);
    const worker = String(started.worker);
    writeFileSync(join(mcState(a.home).repos.app.agents[worker].worktree_path as string, "uncommitted.txt"), "x\n");
    await serve.admin.cancelTask(task.id, {});
    const failed = await a.waitForLog("worker.stop_failed", (l) => l.task_id === task.id, 30_000);
    expect(failed.msg).toContain("Cleanup cancelled");
    expect(String(failed.output)).toContain("Continue with cleanup? [y/N]: Cleanup cancelled");
    expect(fakeCalls(a.home).filter((c) => c[0] === "worker" && c[1] === "rm")).toHaveLength(3);
    expect(mcState(a.home).repos.app.agents[worker]).toBeDefined();
    expect(a.logs().some((l) => l.event === "worker.stopped" && l.task_id === task.id)).toBe(false);
  }, 60_000);

  it("a node claims only tasks of repos multiclaude has initialised there, and takes a repo up once it is initialised", async () => {
    const serve = await serveFor();
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 200, mcRepos: ["app"] }));
    await a.waitForLog("agent.registered");
    const other = await serve.admin.createTask({ repo: "other", description: "only node-b has other", priority: "critical" });
    const mine = await serve.admin.createTask({ repo: "app", description: "node-a can do this", priority: "low" });
    await finished(serve, mine.id, "completed");
    expect((await serve.admin.getTask(other.id)).status).toBe("pending");

    const b = track(startAgent({ nodeId: "node-b", url: serve.url, workMs: 200, mcRepos: ["other"] }));
    expect((await finished(serve, other.id, "completed")).claimed_node).toBe("node-b");

    const later = await serve.admin.createTask({ repo: "later", description: "nobody has later yet" });
    await new Promise((r) => setTimeout(r, 500));
    expect((await serve.admin.getTask(later.id)).status).toBe("pending");
    mcInit(a.home, "later"); // the agent re-reads state.json and claims with the new repo
    expect((await finished(serve, later.id, "completed")).claimed_node).toBe("node-a");
    const claims = (await allEvents(serve.admin)).filter((e) => e.type === "task.claimed").map((e) => `${String(e.data.task_id)}@${String(e.data.node_id)}`);
    expect(claims.sort()).toEqual([`${mine.id}@node-a`, `${other.id}@node-b`, `${later.id}@node-a`].sort());
    void b;
  }, 60_000);

  it("a start that fails is released with its reason, not re-claimed by the same node at once, and taken by another", async () => {
    const serve = await serveFor();
    // multiclaude lists `app` on node-a, but its clone is gone: `work` fails (recorded 090).
    const a = track(startAgent({ nodeId: "node-a", url: serve.url, workMs: 200, mcRepos: ["app"] }));
    rmSync(join(a.home, ".multiclaude", "repos", "app"), { recursive: true, force: true });
    await a.waitForLog("agent.registered");
    const task = await serve.admin.createTask({ repo: "app", description: "needs a clone" });
    const released = await waitFor(async () => (await allEvents(serve.admin)).find((e) => e.type === "task.released" && e.data.task_id === task.id), "the release");
    expect(released.data).toMatchObject({ node_id: "node-a" });
    expect(String(released.data.reason)).toMatch(/start failed on node-a: multiclaude work exited with code 1: .*failed to create git worktree/s);
    const t = await serve.admin.getTask(task.id);
    expect(t).toMatchObject({ status: "pending", cooldown: { node_id: "node-a" } });
    // Node-a does not take it straight back (it would fail the same way)...
    await new Promise((r) => setTimeout(r, 1500));
    expect(fakeCalls(a.home).filter((c) => c[0] === "work")).toHaveLength(1);
    // ...and a node that has the repo does.
    const b = track(startAgent({ nodeId: "node-b", url: serve.url, workMs: 200, mcRepos: ["app"] }));
    expect((await finished(serve, task.id, "completed")).claimed_node).toBe("node-b");
    void b;
  }, 60_000);
});
