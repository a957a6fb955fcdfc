import { describe, expect, it } from "vitest";
import { apiText, reportAgents, reportRepos } from "../../src/agent/heartbeat-report.js";
import { createLogger } from "../../src/agent/logger.js";
import { cpuPercent, createMetricsSampler, memoryPercent, readCpuTimes } from "../../src/agent/metrics.js";
import { createRepoMap } from "../../src/agent/repo-map.js";
import { backoff, createWakeup } from "../../src/agent/wait.js";

const alive = (pid: number | undefined) => (pid === undefined ? undefined : pid < 100);

describe("heartbeat report", () => {
  const state = {
    repos: {
      "acme-app": {
        agents: {
          supervisor: { type: "supervisor", pid: 5 },
          "happy-otter": { type: "worker", pid: 6, task: "fix\u0007 it" },
          "bad name!": { type: "worker", pid: 7 },
        },
        task_history: [{ status: "open" }, { status: "merged" }, { status: "open" }],
      },
      lib: { agents: { w2: { type: "worker", pid: 500, ready_for_cleanup: true } } },
    },
  };
  const repos = createRepoMap({ app: "acme-app" });

  it("lists multiclaude's agents in the coordinator's repo naming, with derived status and held task ids", () => {
    const agents = reportAgents(state, [{ taskId: "task-1", localRepo: "acme-app", worker: "happy-otter" }], repos, alive);
    expect(agents).toEqual([
      { name: "supervisor", type: "supervisor", status: "running", task: null, repo: "app", task_id: null },
      { name: "happy-otter", type: "worker", status: "running", task: "fix it", repo: "app", task_id: "task-1" },
      { name: "w2", type: "worker", status: "done", task: null, repo: "lib", task_id: null },
    ]);
  });

  it("reports open PRs per repo", () => {
    expect(reportRepos(state, repos)).toEqual([
      { name: "app", active_prs: 2 },
      { name: "lib", active_prs: 0 },
    ]);
  });

  it("maps repo names both ways", () => {
    expect(repos.toLocal("app")).toBe("acme-app");
    expect(repos.toLocal("lib")).toBe("lib");
    expect(repos.toCoord("acme-app")).toBe("app");
    expect(repos.toLocal("constructor")).toBe("constructor");
  });

  it("keeps free text within the API's rules", () => {
    expect(apiText("a\u0000b\tc\nd", 100)).toBe("ab\tc\nd");
    expect(apiText("x".repeat(10), 5)).toBe("xxxx…");
  });
});

describe("metrics", () => {
  it("computes CPU percent from deltas and memory percent from totals", () => {
    expect(cpuPercent({ busy: 100, total: 1000 }, { busy: 350, total: 2000 })).toBe(25);
    expect(cpuPercent({ busy: 1, total: 1 }, { busy: 1, total: 1 })).toBe(0);
    expect(memoryPercent(1000, 250)).toBe(75);
    const t = readCpuTimes();
    expect(t.total).toBeGreaterThan(0);
    expect(t.busy).toBeLessThanOrEqual(t.total);
  });

  it("samples real values in range", () => {
    const sampler = createMetricsSampler();
    const m = sampler.sample();
    expect(m.cpu_percent).toBeGreaterThanOrEqual(0);
    expect(m.cpu_percent).toBeLessThanOrEqual(100);
    expect(m.memory_percent).toBeGreaterThan(0);
    expect(m.memory_percent).toBeLessThanOrEqual(100);
  });
});

describe("logger", () => {
  it("writes human lines or one JSON object per line", () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s) };
    const now = () => new Date("2026-01-20T10:00:00Z");
    createLogger({ stream, json: false, now }).log("info", "task.claimed", "claimed task-1\nsecond line", { task_id: "task-1" });
    createLogger({ stream, json: true, now }).log("warn", "task.claimed", "claimed task-1", { task_id: "task-1", worker: undefined });
    expect(lines[0]).toBe("2026-01-20T10:00:00.000Z info  claimed task-1 ⏎ second line\n");
    expect(JSON.parse(lines[1]!)).toEqual({ ts: "2026-01-20T10:00:00.000Z", level: "warn", event: "task.claimed", msg: "claimed task-1", task_id: "task-1" });
  });
});

describe("waiting", () => {
  it("wakes sleepers early and backs off within bounds", async () => {
    const w = createWakeup();
    let woke = false;
    const p = w.wait(60_000).then(() => (woke = true));
    w.wake();
    await p;
    expect(woke).toBe(true);
    for (let f = 1; f < 12; f++) {
      const ms = backoff(f, 500, 30_000);
      expect(ms).toBeGreaterThanOrEqual(0.75 * Math.min(30_000, 500 * 2 ** (f - 1)));
      expect(ms).toBeLessThanOrEqual(1.25 * 30_000);
    }
  });
});
