import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { recordedText, useRecordings } from "../helpers/recordings.js";
import { activePrs, agentStatus, findHistoryEntry, isPidAlive, NO_SUMMARY, readState, workerOutcome, type McState } from "../../src/agent/multiclaude-state.js";


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

  it("never takes the entry of an earlier worker of the same name that ran another task, however recent", () => {
    // multiclaude reuses a name once the earlier worktree is gone: seconds later, on a busy node.
    const earlier = { name: "w", task: "the earlier task", status: "unknown", summary: "earlier", created_at: "2026-01-20T09:59:30Z", completed_at: "2026-01-20T09:59:55Z" };
    expect(findHistoryEntry({ task_history: [earlier] }, "w", T0, ["our task"])).toBeUndefined();
    // Ours left agents without an entry (removed by hand): vanished, not done with the earlier summary.
    const gone = { repos: { r: { agents: {}, task_history: [earlier] } } };
    expect(workerOutcome(gone, "r", "w", T0, () => true, ["our task"])).toEqual({ kind: "vanished" });
    const ours = { ...earlier, task: "our task", summary: "ours", created_at: "2026-01-20T10:00:01Z", completed_at: "2026-01-20T10:00:09Z" };
    expect(findHistoryEntry({ task_history: [ours, earlier] }, "w", T0, ["our task"])?.summary).toBe("ours");
  });
});

describe("workerOutcome", () => {
  const state = (agents: McState["repos"][string]["agents"], history: McState["repos"][string]["task_history"] = []): McState => ({
    repos: { r: { agents, task_history: history } },
  });

  it("is running while the agent is listed, whatever the history says", () => {
    expect(workerOutcome(state({ w: { pid: 1 } }), "r", "w", T0, alive)).toEqual({ kind: "running", alive: true });
    expect(workerOutcome(state({ w: { pid: 2 } }), "r", "w", T0, alive)).toEqual({ kind: "running", alive: false });
    expect(workerOutcome(state({ w: { pid: 1 } }, [{ name: "w", status: "unknown" }]), "r", "w", T0, alive).kind).toBe("running");
  });

  it.runIf(useRecordings)("a worker gone from agents whose entry is `unknown` has succeeded (recorded state 03), with its summary and branch", () => {
    const recorded = JSON.parse(recordedText("state/03-after-complete.json")) as McState;
    expect(workerOutcome(recorded, "demo", "proud-tiger", Date.parse("2026-12-01T05:45:14Z"), alive)).toEqual({
      kind: "completed",
      summary: "Added a Usage section to README.md; pushed branch work/proud-tiger",
      branch: "work/proud-tiger",
      pr: undefined,
      status: "unknown",
    });
  });

  it.runIf(useRecordings)("a worker whose window was killed (unknown, no summary; recorded state 11) is completed, saying it left no summary", () => {
    const recorded = JSON.parse(recordedText("state/11-after-killed-window-cleanup.json")) as McState;
    expect(workerOutcome(recorded, "demo", "witty-elephant", 0, alive)).toMatchObject({ kind: "completed", summary: NO_SUMMARY, branch: "work/witty-elephant" });
  });

  it.runIf(useRecordings)("`failed` has failed with failure_reason (recorded state 12)", () => {
    const recorded = JSON.parse(recordedText("state/12-after-complete-failure.json")) as McState;
    expect(workerOutcome(recorded, "demo", "eager-koala", 0, alive)).toEqual({ kind: "failed", reason: "tests failed: 2 of 10" });
    expect(workerOutcome(state({}, [{ name: "w", status: "failed" }]), "r", "w", T0, alive)).toEqual({ kind: "failed", reason: "worker w failed" });
  });

  it("any other status is a success too; a PR is used when a multiclaude records one", () => {
    for (const status of ["open", "merged", "closed", "no-pr", "unknown", undefined]) {
      expect(workerOutcome(state({}, [{ name: "w", status }]), "r", "w", T0, alive).kind).toBe("completed");
    }
    expect(workerOutcome(state({}, [{ name: "w", status: "open", pr_url: "https://x/pull/3" }]), "r", "w", T0, alive)).toMatchObject({ pr: "https://x/pull/3" });
  });

  it("says vanished when the agent left without an entry (worker rm writes none), or the repo is gone", () => {
    expect(workerOutcome(state({}), "r", "w", T0, alive)).toEqual({ kind: "vanished" });
    expect(workerOutcome({ repos: {} }, "r", "w", T0, alive)).toEqual({ kind: "vanished" });
  });
});
