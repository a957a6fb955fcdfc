/**
 * The agent as multiclaude's postman and as the coordinator's hand on running workers:
 * messages to agents on its node become multiclaude message files (and are acked), and a
 * task cancelled on the coordinator stops its worker. Failed workers fail their tasks.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureBuilt,
  mcInit,
  fakeCalls,
  mcState,
  removeDirs,
  startAgent,
  startServe,
  tempDir,
  waitFor,
  type AgentProc,
} from "../fixtures/agent-harness.js";
import { mcMessageId } from "../../src/agent/message-files.js";

function messageFiles(home: string, repo: string, agent: string): any[] {
  const dir = join(home, ".multiclaude", "messages", repo, agent);
  try {
    return readdirSync(dir)
      .filter((f) => /^msg-.*\.json$/.test(f))
      .map((f) => {
        const text = readFileSync(join(dir, f), "utf8");
        return { file: f, text, ...JSON.parse(text) };
      });
  } catch {
    return [];
  }
}

describe("agent messages and cancellation", () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  let b: AgentProc;

  beforeAll(async () => {
    ensureBuilt();
    serve = await startServe({ claimTimeout: "10s", offlineThreshold: "3s" });
    // node-b's multiclaude has my-repo and already runs worker-x there (this test process stands in for its pid).
    const home = tempDir("home-node-b");
    mcInit(home, "my-repo");
    const statePath = join(home, ".multiclaude", "state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8"));
    state.repos["my-repo"].agents["worker-x"] = { type: "worker", pid: process.pid, task: "polish the docs" };
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    b = startAgent({ nodeId: "node-b", url: serve.url, home, mcRepos: ["my-repo"], maxWorkers: 2, workMs: 60_000 });
    await b.waitForLog("agent.registered");
  }, 60_000);

  afterAll(async () => {
    b?.kill("SIGTERM");
    await b?.exited;
    await serve?.stop();
    if (b) removeDirs([b.home]);
  });

  it("reports worker-x to the coordinator from state.json", async () => {
    const state = await waitFor(async () => {
      const s = await serve.admin.getState("my-repo");
      return s.agents["worker-x@node-b"] ? s : undefined;
    }, "worker-x@node-b in /state/my-repo");
    expect(state.agents["worker-x@node-b"]).toMatchObject({ name: "worker-x", node: "node-b", type: "worker", status: "running", task: "polish the docs" });
  });

  it("writes a message to worker-x@node-b into node-b's multiclaude message files and acks it", async () => {
    const sent = await serve.admin.sendMessage({ from: "supervisor@node-a", to: "worker-x@node-b", body: "please rebase on main" });
    const id = mcMessageId(sent.id);
    const [file] = await waitFor(() => {
      const files = messageFiles(b.home, "my-repo", "worker-x").filter((f) => f.id === id);
      return files.length ? files : undefined;
    }, "the message file");
    // As multiclaude names and writes them: <id>.json, id msg- + 13 characters, 2-space JSON without a trailing newline.
    expect(file.file).toBe(`${id}.json`);
    expect(id).toMatch(/^msg-[0-9a-f]{8}-[0-9a-f]{4}$/);
    expect(file.text).toBe(JSON.stringify(JSON.parse(file.text), null, 2));
    expect(JSON.parse(file.text)).toEqual({ id, from: "supervisor@node-a", to: "worker-x", timestamp: sent.created_at, body: "please rebase on main", status: "pending" });
    await waitFor(async () => (await serve.admin.listMessages({ node: "node-b", status: "acked" })).some((m) => m.id === sent.id), "the ack");
    await b.waitForLog("message.delivered", (l) => l.message_id === sent.id);
    // Atomic writes leave no temp files behind.
    expect(readdirSync(join(b.home, ".multiclaude", "messages", "my-repo", "worker-x")).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("routes a bare agent name with a repo through the heartbeats to the same folder", async () => {
    const sent = await serve.admin.sendMessage({ from: "supervisor@node-a", to: "worker-x", repo: "my-repo", body: "CI is green again" });
    expect(sent.to).toBe("worker-x@node-b");
    await waitFor(() => messageFiles(b.home, "my-repo", "worker-x").some((f) => f.id === mcMessageId(sent.id) && f.body === "CI is green again"), "the second message file");
    await waitFor(async () => (await serve.admin.listMessages({ node: "node-b", status: "pending" })).length === 0, "no pending messages");
  });

  it("stops the worker of a task cancelled on the coordinator", async () => {
    const task = await serve.admin.createTask({ repo: "my-repo", description: "a task nobody needs" });
    const started = await b.waitForLog("worker.started", (l) => l.task_id === task.id);
    const worker = String(started.worker);
    expect(mcState(b.home).repos["my-repo"].agents[worker]).toBeDefined();
    await serve.admin.cancelTask(task.id, { reason: "changed our minds" });
    await b.waitForLog("worker.stopped", (l) => l.task_id === task.id);
    expect(fakeCalls(b.home)).toContainEqual(["worker", "rm", "--repo", "my-repo", worker]);
    expect(mcState(b.home).repos["my-repo"].agents[worker]).toBeUndefined();
    expect((await serve.admin.getTask(task.id)).status).toBe("cancelled");
    // The slot is free again: the next task runs.
    const next = await serve.admin.createTask({ repo: "my-repo", description: "a task somebody needs work_ms=200" });
    await waitFor(async () => (await serve.admin.getTask(next.id)).status === "completed", "the next task to complete");
  });

  it("fails a task with the worker's failure reason (history `failed`)", async () => {
    const failing = await serve.admin.createTask({ repo: "my-repo", description: "this will FAIL work_ms=200", max_attempts: 1 });
    const f = await waitFor(async () => {
      const t = await serve.admin.getTask(failing.id);
      return t.status === "failed" ? t : undefined;
    }, "the task to fail");
    expect(f.failure_reason).toBe("tests kept failing (fake)");
  });
});
