/**
 * Three real `agent` processes against a real `serve`, the stand-in multiclaude and gh on PATH:
 * 30 tasks, some with label requirements, get done exactly once each, on fitting nodes, never
 * above a node's capacity, with their branch and the PR gh finds for it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../src/core/types.js";
import {
  allEvents,
  ensureBuilt,
  mcState,
  removeDirs,
  startAgent,
  startServe,
  waitFor,
  type AgentProc,
} from "../fixtures/agent-harness.js";

const NODES = {
  "node-a": { labels: { pool: "gpu", region: "us" }, maxWorkers: 2 },
  "node-b": { labels: { pool: "cpu", region: "us" }, maxWorkers: 3 },
  "node-c": { labels: { pool: "cpu", region: "eu" }, maxWorkers: 4 },
} as const;
type NodeId = keyof typeof NODES;

/** Task i's label requirement: gpu only fits node-a, eu only node-c, cpu node-b or node-c. */
function labelsFor(i: number): Record<string, string> {
  return [{ pool: "gpu" }, { region: "eu" }, { pool: "cpu" }, {}, {}][i % 5]!;
}

function fits(taskLabels: Record<string, string>, node: NodeId): boolean {
  const labels: Record<string, string> = NODES[node].labels;
  return Object.entries(taskLabels).every(([k, v]) => labels[k] === v);
}

describe("agent worker pool (3 agents, 30 tasks)", () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  const agents: AgentProc[] = [];

  beforeAll(async () => {
    ensureBuilt();
    // Leases long enough that a loaded test machine does not orphan tasks (agent-failover tests that).
    serve = await startServe({ claimTimeout: "10s", offlineThreshold: "5s" });
    for (const [nodeId, n] of Object.entries(NODES)) {
      if (nodeId === "node-c") {
        // node-c takes its identity and a repo map from its config file instead of flags.
        agents.push(
          startAgent({
            nodeId,
            url: serve.url,
            config: [
              "coordination:",
              "  labels: { pool: cpu, region: eu }",
              `  max_workers: ${n.maxWorkers}`,
              "  agent:",
              "    repos: { app: acme-app }",
              "    grace_period: 10s",
              "",
            ].join("\n"),
            mcRepos: ["acme-app", "lib"],
            gh: true,
          }),
        );
      } else {
        agents.push(startAgent({ nodeId, url: serve.url, labels: n.labels, maxWorkers: n.maxWorkers, mcRepos: ["app", "lib"], gh: true }));
      }
    }
    await Promise.all(agents.map((a) => a.waitForLog("agent.registered")));
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) a.kill("SIGTERM");
    await Promise.all(agents.map((a) => a.exited));
    await serve?.stop();
    removeDirs(agents.map((a) => a.home));
  });

  it("completes every task exactly once on a fitting node, within each node's capacity, with PR URLs", async () => {
    const created: Task[] = [];
    for (let i = 0; i < 30; i++) {
      created.push(
        await serve.admin.createTask({
          repo: i % 2 ? "app" : "lib",
          description: `task ${i}: make the thing ${i} better`,
          labels: labelsFor(i),
          priority: (["low", "medium", "high", "critical"] as const)[i % 4],
        }),
      );
    }

    const done = await waitFor(
      async () => {
        const tasks = (await serve.admin.listTasks({ limit: 100 })).tasks;
        return tasks.length === 30 && tasks.every((t) => t.status === "completed") ? tasks : undefined;
      },
      "all 30 tasks to complete",
      45_000,
      200,
    ).catch((err) => {
      for (const a of agents) console.error(a.nodeId, a.stderr.slice(-15).join("\n"));
      throw err;
    });

    for (const t of done) {
      const node = t.claimed_node as NodeId;
      expect(Object.keys(NODES)).toContain(node);
      expect(fits(t.labels, node), `${t.id} (${JSON.stringify(t.labels)}) ran on ${node}`).toBe(true);
      // gh runs in the local clone, so the PR is named after the local repo: the repo map of node-c shows.
      const localRepo = node === "node-c" && t.repo === "app" ? "acme-app" : t.repo;
      expect(t.result?.pr).toMatch(new RegExp(`^https://github\\.com/example/${localRepo}/pull/\\d+$`));
      expect(t.result?.branch).toMatch(/^work\/[a-z]+-[a-z]+$/);
      expect(t.result?.summary).toContain(t.description);
    }

    const events = await allEvents(serve.admin);
    const completions = events.filter((e) => e.type === "task.completed");
    expect(completions.map((e) => e.data.task_id).sort()).toEqual(created.map((t) => t.id).sort());

    // Capacity over time from the event log: claims minus finishes per node.
    const holding: Record<string, number> = {};
    const peak: Record<string, number> = {};
    for (const e of events) {
      const node = e.data.node_id as string | undefined;
      if (!node) continue;
      if (e.type === "task.claimed") {
        holding[node] = (holding[node] ?? 0) + 1;
        peak[node] = Math.max(peak[node] ?? 0, holding[node]);
        const task = created.find((t) => t.id === e.data.task_id)!;
        expect(fits(task.labels, node as NodeId), `claim of ${task.id} by ${node}`).toBe(true);
      } else if (["task.completed", "task.failed", "task.released", "task.orphaned", "task.cancelled"].includes(e.type)) {
        holding[node] = (holding[node] ?? 0) - 1;
      }
    }
    for (const [node, n] of Object.entries(NODES)) {
      expect(peak[node] ?? 0, `${node} peak`).toBeLessThanOrEqual(n.maxWorkers);
      expect(holding[node] ?? 0).toBe(0);
    }
    // The gpu tasks need node-a, the eu tasks node-c.
    expect(done.some((t) => t.claimed_node === "node-a")).toBe(true);
    expect(done.some((t) => t.claimed_node === "node-c")).toBe(true);
  }, 60_000);

  it("heartbeats carry real metrics, open PRs per repo, and the agents multiclaude lists", async () => {
    // What gh says for each node: every branch in its multiclaude history has an open PR (the
    // stand-in gh's world), counted per repo in coordinator naming.
    const localOpenPrs = (a: AgentProc) => {
      const out: Record<string, number> = {};
      for (const [repo, r] of Object.entries<any>(mcState(a.home).repos)) {
        out[repo === "acme-app" ? "app" : repo] = (r.task_history ?? []).length;
      }
      return out;
    };
    const reported = (n: { repos: { name: string; active_prs: number }[] }) => Object.fromEntries(n.repos.map((r) => [r.name, r.active_prs]));
    const same = (x: Record<string, number>, y: Record<string, number>) => JSON.stringify(Object.entries(x).sort()) === JSON.stringify(Object.entries(y).sort());
    // Once the heartbeats after the last finish arrive, each node reports exactly that.
    const nodes = await waitFor(
      async () => {
        const list = await serve.admin.listNodes();
        const settled = list.length === 3 && agents.every((a) => same(reported(list.find((n) => n.id === a.nodeId)!), localOpenPrs(a)));
        return settled ? list : undefined;
      },
      "heartbeats reporting the open PRs of each node's task history",
      45_000,
    );
    const tasks = (await serve.admin.listTasks({ limit: 100 })).tasks;
    for (const n of nodes) {
      // Each task a node completed opened one PR there (more if a lease ran out under load and it ran twice).
      expect(Object.values(reported(n)).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(tasks.filter((t) => t.claimed_node === n.id).length);
      expect(n.status).toBe("online");
      expect(n.metrics.cpu_percent).toBeGreaterThanOrEqual(0);
      expect(n.metrics.cpu_percent).toBeLessThanOrEqual(100);
      expect(n.metrics.memory_percent).toBeGreaterThan(0);
      expect(n.metrics.memory_percent).toBeLessThanOrEqual(100);
      // Repo names are reported in the coordinator's naming (node-c maps app → acme-app locally).
      for (const r of n.repos) expect(["app", "lib"]).toContain(r.name);
    }
    // The workers multiclaude listed while they ran reached the coordinator (agent.spawned/exited).
    const events = await allEvents(serve.admin);
    for (const node of Object.keys(NODES)) {
      const spawned = events.filter((e) => e.type === "agent.spawned" && e.data.node_id === node);
      expect(spawned.length, `${node} spawned`).toBeGreaterThan(0);
      for (const e of spawned) {
        expect(String(e.data.agent)).toMatch(/^[a-z]+-[a-z]+$|^(supervisor|merge-queue|default)$/);
        expect(["app", "lib"]).toContain(e.data.repo);
      }
    }
    const state = await serve.admin.getState("app");
    expect(state.active_prs).toBeGreaterThan(0);
  }, 60_000);
});
