import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { activePrs, agentStatus, findHistoryEntry, isPidAlive, readState, workerOutcome, type McState } from "../../src/agent/multiclaude-state.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function home(): string {
  const d = mkdtempSync(join(tmpdir(), "mcc-state-"));
  dirs.push(d);
  return d;
}

const T0 = Date.parse("2026-01-20T10:00:00Z");
const alive = (pid: number | undefined) => (pid === undefined ? undefined : pid === 1);

describe("readState", () => {
  it("reads repos and current_repo, treats a missing file as empty and a broken one as unknown", () => {
    const h = home();
    expect(readState(h)).toEqual({ repos: {} });
    writeFileSync(join(h, "state.json"), JSON.stringify({ repos: { r: { agents: { w: { pid: 1 } } } }, current_repo: "r" }));
    expect(readState(h)).toEqual({ repos: { r: { agents: { w: { pid: 1 } } } }, current_repo: "r" });
    writeFileSync(join(h, "state.json"), "{ half a fi");
    expect(readState(h)).toBeUndefined();
  });
});

describe("pids and agent status", () => {
  it("knows this process is alive and a never-used pid is not", () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(isPidAlive(2 ** 22 + 12345)).toBe(false);
    expect(isPidAlive(undefined)).toBeUndefined();
    expect(isPidAlive(0)).toBeUndefined();
  });

  it("derives done / running / exited / unknown", () => {
    expect(agentStatus({ pid: 1, ready_for_cleanup: true }, alive)).toBe("done");
    expect(agentStatus({ pid: 1 }, alive)).toBe("running");
    expect(agentStatus({ pid: 2 }, alive)).toBe("exited");
    expect(agentStatus({}, alive)).toBe("unknown");
  });
});

describe("task history", () => {
  it("counts open PRs", () => {
    expect(activePrs({ task_history: [{ status: "open" }, { status: "merged" }, { status: "open" }, { status: "failed" }] })).toBe(2);
    expect(activePrs({})).toBe(0);
  });

  it("finds the latest entry of a worker, skipping older runs of the same name", () => {
    const repo = {
      task_history: [
        { name: "w", status: "merged", created_at: "2026-01-19T10:00:00Z", pr_url: "old" },
        { name: "other", status: "open", created_at: "2026-01-20T10:00:01Z" },
      ],
    };
    expect(findHistoryEntry(repo, "w", T0)).toBeUndefined();
    repo.task_history.push({ name: "w", status: "open", created_at: "2026-01-20T10:00:02Z", pr_url: "new" });
    expect(findHistoryEntry(repo, "w", T0)?.pr_url).toBe("new");
    expect(findHistoryEntry({ task_history: [{ name: "w", status: "open" }] }, "w", T0)?.status).toBe("open");
  });
});

describe("workerOutcome", () => {
  const state = (agents: McState["repos"][string]["agents"], history: McState["repos"][string]["task_history"] = []): McState => ({
    repos: { r: { agents, task_history: history } },
  });

  it("is running while the agent is listed without a final history entry", () => {
    expect(workerOutcome(state({ w: { pid: 1 } }), "r", "w", T0, alive)).toEqual({ kind: "running", alive: true });
    expect(workerOutcome(state({ w: { pid: 2 } }), "r", "w", T0, alive)).toEqual({ kind: "running", alive: false });
    expect(workerOutcome(state({ w: { pid: 1 } }, [{ name: "w", status: "unknown" }]), "r", "w", T0, alive).kind).toBe("running");
  });

  it("completes with the PR URL (or #number) and summary of a final entry", () => {
    expect(workerOutcome(state({}, [{ name: "w", status: "open", pr_url: "https://x/pull/3", summary: "did it" }]), "r", "w", T0, alive)).toEqual({
      kind: "completed",
      pr: "https://x/pull/3",
      summary: "did it",
      status: "open",
    });
    expect(workerOutcome(state({}, [{ name: "w", status: "merged", pr_number: 42 }]), "r", "w", T0, alive)).toMatchObject({ kind: "completed", pr: "#42" });
    expect(workerOutcome(state({}, [{ name: "w", status: "no-pr", summary: "nothing to change" }]), "r", "w", T0, alive)).toMatchObject({
      kind: "completed",
      pr: undefined,
      summary: "nothing to change",
    });
    // A final entry counts even while multiclaude still lists the agent.
    expect(workerOutcome(state({ w: { pid: 1 } }, [{ name: "w", status: "open", pr_url: "u" }]), "r", "w", T0, alive).kind).toBe("completed");
  });

  it("fails with the failure reason, and for an unknown end without a PR", () => {
    expect(workerOutcome(state({}, [{ name: "w", status: "failed", failure_reason: "tests failed" }]), "r", "w", T0, alive)).toEqual({ kind: "failed", reason: "tests failed" });
    expect(workerOutcome(state({}, [{ name: "w", status: "unknown" }]), "r", "w", T0, alive)).toMatchObject({ kind: "failed" });
    expect(workerOutcome(state({}, [{ name: "w", status: "unknown", pr_url: "u" }]), "r", "w", T0, alive)).toMatchObject({ kind: "completed", pr: "u" });
  });

  it("says vanished when the agent left without an entry (or the repo is gone)", () => {
    expect(workerOutcome(state({}), "r", "w", T0, alive)).toEqual({ kind: "vanished" });
    expect(workerOutcome({ repos: {} }, "r", "w", T0, alive)).toEqual({ kind: "vanished" });
  });
});
