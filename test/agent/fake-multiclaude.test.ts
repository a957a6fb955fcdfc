/**
 * The suite's stand-in multiclaude must behave like the real one: each transcript recorded from
 * the real CLI (shared/multiclaude/transcripts) is replayed against the stand-in in the same
 * situation, and stdout, stderr and the exit code must match byte for byte. state.json must have
 * the recorded shapes. So the stand-in and the recordings cannot drift apart.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { killFakeWorkers } from "../fixtures/agent-harness.js";
import { recordedText, useRecordings } from "../helpers/recordings.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FAKE = join(ROOT, "test", "fixtures", "multiclaude");

interface Transcript {
  cwd: string;
  command: string;
  stdout: string;
  stderr: string;
  exit: number;
}

/** Reads `--- stdout` / `--- stderr` / `--- exit N` sections; `(no trailing newline)` is honoured. */
export function parseTranscript(text: string): Transcript {
  const lines = text.split("\n");
  const cwd = /^# cwd: (.*)$/m.exec(text)?.[1] ?? "$TMP/outside";
  const command = lines.find((l) => l.startsWith("$ "))!.slice(2);
  const section = (name: string, next: string) => {
    const start = lines.findIndex((l) => l.startsWith(`--- ${name}`));
    const end = lines.findIndex((l, i) => i > start && l.startsWith(`--- ${next}`));
    const body = lines.slice(start + 1, end).join("\n");
    const noNewline = lines[start]!.includes("(no trailing newline)");
    return body === "" ? "" : noNewline ? body : `${body}\n`;
  };
  const exit = Number(/^--- exit (\d+)$/m.exec(text)![1]);
  return { cwd, command, stdout: section("stdout", "stderr"), stderr: section("stderr", "exit"), exit };
}

function transcript(name: string): Transcript {
  return parseTranscript(recordedText(`transcripts/${name}`));
}

function recordedState(name: string): any {
  return JSON.parse(recordedText(`state/${name}`));
}

/** A temp world like the recording's: $HOME, $TMP/outside, $ORIGIN, multiclaude on PATH. */
function makeWorld() {
  const tmp = mkdtempSync(join(tmpdir(), "mcc-fake-mc-"));
  const home = join(tmp, "home");
  const bin = join(tmp, "mcbin");
  const origin = join(tmp, "origin.git");
  for (const d of [home, bin, origin, join(tmp, "outside")]) mkdirSync(d, { recursive: true });
  symlinkSync(FAKE, join(bin, "multiclaude"));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}`, FAKE_MC_WORK_MS: "600000" };
  delete env.FAKE_MC_NAME;
  const fill = (s: string) => s.replaceAll("$ORIGIN", origin).replaceAll("$HOME", home).replaceAll("$TMUX_TMPDIR", tmp).replaceAll("$TMP", tmp);
  const unfill = (s: string) => s.replaceAll(origin, "$ORIGIN").replaceAll(home, "$HOME").replaceAll(tmp, "$TMP");
  return {
    tmp,
    home,
    state: () => JSON.parse(readFileSync(join(home, ".multiclaude", "state.json"), "utf8")),
    stateText: () => readFileSync(join(home, ".multiclaude", "state.json"), "utf8"),
    /** Runs the stand-in directly (setup steps). */
    mc(args: string[], extraEnv: Record<string, string> = {}) {
      execFileSync(FAKE, args, { cwd: join(tmp, "outside"), env: { ...env, ...extraEnv }, stdio: "pipe" });
    },
    worktree: (repo: string, name: string) => join(home, ".multiclaude", "wts", repo, name),
    /** Replays a recorded command line with bash in the recorded cwd. */
    replay(t: Transcript): Transcript {
      const name = /Creating worker '([^']+)'/.exec(t.stdout)?.[1];
      const r = spawnSync("bash", ["-c", fill(t.command)], {
        cwd: fill(t.cwd),
        env: name ? { ...env, FAKE_MC_NAME: name } : env,
        encoding: "utf8",
        timeout: 20_000,
      });
      return { cwd: t.cwd, command: t.command, stdout: unfill(r.stdout), stderr: unfill(r.stderr), exit: r.status ?? -1 };
    },
    /** Stops every worker process the stand-in started. */
    cleanup() {
      killFakeWorkers(home);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

type World = ReturnType<typeof makeWorld>;
let world: World | undefined;
afterEach(() => {
  world?.cleanup();
  world = undefined;
});

const init = (w: World) => w.mc(["init", join(w.tmp, "origin.git"), "demo"]);
const worker = (w: World, name: string, opts: { dirty?: boolean; unpushed?: boolean } = {}) => {
  w.mc(["work", "--repo", "demo", "some task"], { FAKE_MC_NAME: name });
  if (opts.dirty) writeFileSync(join(w.worktree("demo", name), "uncommitted.txt"), "x\n");
  if (opts.unpushed) writeFileSync(join(w.worktree("demo", name), ".fake-unpushed"), "1\n");
};

/** Transcript → what the world needs before the recorded command ran. */
const CASES: Record<string, (w: World) => void> = {
  "000-version.txt": () => {},
  "002-version-flag.txt": () => {},
  "043-init.txt": () => {},
  "141-init-again-same-name.txt": init,
  "143-init-no-name.txt": () => {},
  "142-init-no-merge-queue.txt": () => {},
  "044-work.txt": init,
  "090-work-missing-repo.txt": init,
  "140-work-missing-repo-no-flag-outside.txt": init,
  "091-work-dashdash-help-me.txt": init,
  "092-work-help-me-no-dashdash.txt": init,
  "093-work-help-me-first.txt": init,
  "094-work-dash-task.txt": init,
  "095-work-task-create-after-flag.txt": init,
  "096-work-create-subcommand-no-task.txt": init,
  "099-work-task-rm-after-flag.txt": init,
  "099b-work-task-starting-with-rm-word.txt": init,
  "099c-work-task-leading-space-dash.txt": init,
  "099d-work-task-unquoted-words.txt": init,
  "099f-work-rm-subcommand-single-worker.txt": (w) => (init(w), worker(w, "zealous-wolf")),
  "099g-work-rm-subcommand-no-workers.txt": init,
  "063-worker-rm-outside-no-repo.txt": (w) => (init(w), worker(w, "silly-squirrel")),
  "064-worker-rm-clean-devnull.txt": (w) => (init(w), worker(w, "silly-squirrel")),
  "066-worker-rm-clean-y-piped.txt": (w) => (init(w), worker(w, "proud-hawk")),
  "068-worker-rm-dirty-devnull.txt": (w) => (init(w), worker(w, "eager-squirrel", { dirty: true })),
  "069-worker-rm-dirty-force-devnull.txt": (w) => (init(w), worker(w, "eager-squirrel", { dirty: true })),
  "071-worker-rm-dirty-yes-devnull.txt": (w) => (init(w), worker(w, "eager-squirrel", { dirty: true })),
  "072-worker-rm-dirty-stdin-closed.txt": (w) => (init(w), worker(w, "eager-squirrel", { dirty: true })),
  "073-worker-rm-dirty-y-piped.txt": (w) => (init(w), worker(w, "eager-squirrel", { dirty: true })),
  "075-worker-rm-unpushed-devnull.txt": (w) => (init(w), worker(w, "gentle-koala", { unpushed: true })),
  "076-worker-rm-unpushed-y-piped.txt": (w) => (init(w), worker(w, "gentle-koala", { unpushed: true })),
  "078-worker-rm-dirty-unpushed-one-y.txt": (w) => (init(w), worker(w, "brave-owl", { dirty: true, unpushed: true })),
  "079-worker-rm-dirty-unpushed-yes-piped.txt": (w) => (init(w), worker(w, "brave-owl", { dirty: true, unpushed: true })),
  "080-worker-rm-nonexistent.txt": init,
  "138-worker-rm-missing-repo.txt": init,
  "049-agent-complete.txt": (w) => (init(w), worker(w, "proud-tiger")),
  "120-agent-complete-failure.txt": (w) => (init(w), worker(w, "eager-koala")),
  "121-agent-complete-unknown-pr-flag.txt": (w) => (init(w), worker(w, "swift-rabbit")),
  "139-agent-complete-outside.txt": () => {},
};

describe.runIf(useRecordings)("the stand-in multiclaude replays the real CLI's transcripts", () => {
  for (const [file, setup] of Object.entries(CASES)) {
    it(file, () => {
      world = makeWorld();
      setup(world);
      const t = transcript(file);
      const got = world.replay(t);
      expect({ stdout: got.stdout, stderr: got.stderr, exit: got.exit }).toEqual({ stdout: t.stdout, stderr: t.stderr, exit: t.exit });
    });
  }
});

/** Every key path of a JSON value, with array items merged (shapes, not values). */
function shape(v: unknown, path = "$"): string[] {
  if (Array.isArray(v)) return v.flatMap((x) => shape(x, `${path}[]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => [`${path}.${k}`, ...shape(x, `${path}.${k}`)]);
  return [];
}
const sortedShape = (v: unknown) => [...new Set(shape(v))].sort();

describe.runIf(useRecordings)("the stand-in's state.json has the recorded shapes", () => {
  it("after init, work and agent complete: the keys of 01, 02 and 03, 2-space JSON without a trailing newline", () => {
    world = makeWorld();
    init(world);
    expect(sortedShape(world.state())).toEqual(sortedShape(recordedState("01-after-init.json")));
    worker(world, "proud-tiger");
    expect(sortedShape(world.state())).toEqual(sortedShape(recordedState("02-after-work.json")));
    expect(Object.keys(world.state().repos.demo.agents)).toEqual(["default", "merge-queue", "proud-tiger", "supervisor"]);
    execFileSync(FAKE, ["agent", "complete", "--summary", "Added a Usage section"], { cwd: world.worktree("demo", "proud-tiger"), env: { ...process.env, HOME: world.home } });
    const after = world.state();
    expect(sortedShape(after)).toEqual(sortedShape(recordedState("03-after-complete.json")));
    expect(after.repos.demo.task_history).toEqual([
      expect.objectContaining({ name: "proud-tiger", branch: "work/proud-tiger", status: "unknown", summary: "Added a Usage section" }),
    ]);
    expect(after.repos.demo.task_history[0]).not.toHaveProperty("pr_url");
    expect(after.repos.demo.agents).not.toHaveProperty("proud-tiger");
    expect(existsSync(world.worktree("demo", "proud-tiger"))).toBe(false);
    const text = world.stateText();
    expect(text.endsWith("}")).toBe(true);
    expect(text).toBe(JSON.stringify(JSON.parse(text), null, 2));
    expect(after.repos.demo.task_history[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it("a failure is `failed` with failure_reason and no summary (12); a dirty rm cancelled keeps the agent (07), answered yes removes it (08)", () => {
    world = makeWorld();
    init(world);
    worker(world, "eager-koala");
    execFileSync(FAKE, ["agent", "complete", "--failure", "tests failed: 2 of 10"], { cwd: world.worktree("demo", "eager-koala"), env: { ...process.env, HOME: world.home } });
    const [entry] = world.state().repos.demo.task_history;
    expect(Object.keys(entry)).toEqual(["name", "task", "branch", "status", "failure_reason", "created_at", "completed_at"]);
    expect(entry).toMatchObject({ status: "failed", failure_reason: "tests failed: 2 of 10" });

    worker(world, "eager-squirrel", { dirty: true });
    const rm = (input: string) => spawnSync(FAKE, ["worker", "rm", "--repo", "demo", "eager-squirrel"], { env: { ...process.env, HOME: world!.home }, input, encoding: "utf8" });
    expect(rm("").stdout).toContain("Cleanup cancelled");
    expect(Object.keys(world.state().repos.demo.agents)).toEqual(Object.keys(recordedState("07-after-rm-dirty-devnull.json").repos.demo.agents));
    expect(rm("y\n").status).toBe(0);
    expect(Object.keys(world.state().repos.demo.agents)).toEqual(Object.keys(recordedState("08-after-rm-dirty-y-piped.json").repos.demo.agents));
    // worker rm writes no history entry.
    expect(world.state().repos.demo.task_history).toHaveLength(1);
  });

  it("the suite's cleanup signals only the workers' own processes: never pid 1, the test itself or a dead worker's pid", () => {
    world = makeWorld();
    init(world);
    world.mc(["work", "--repo", "demo", "run until stopped HANG"], { FAKE_MC_NAME: "hung-worker" });
    const statePath = join(world.home, ".multiclaude", "state.json");
    const state = world.state();
    const hung = state.repos.demo.agents["hung-worker"].pid as number;
    // A worker a test wrote in by hand (agent-messages does, with its own pid), one long dead.
    state.repos.demo.agents["by-hand"] = { type: "worker", pid: process.pid, task: "x" };
    state.repos.demo.agents["long-dead"] = { type: "worker", pid: 2 ** 22 + 1, task: "y" };
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    expect(Object.values<any>(state.repos.demo.agents).filter((a) => a.pid === 1).length).toBeGreaterThan(0);
    const signalled: number[] = [];
    killFakeWorkers(world.home, (pid) => signalled.push(pid));
    expect(signalled).toEqual([hung]);
    killFakeWorkers(world.home);
  });

  it("a worker's Claude finishes by itself: `unknown` with its summary, or `failed`, never a PR", async () => {
    world = makeWorld();
    init(world);
    world.mc(["work", "--repo", "demo", "ok task work_ms=50"]);
    world.mc(["work", "--repo", "demo", "FAIL task work_ms=50"]);
    const deadline = Date.now() + 15_000;
    while ((world.state().repos.demo.task_history ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const history = world.state().repos.demo.task_history;
    expect(history.map((e: any) => e.status).sort()).toEqual(["failed", "unknown"]);
    for (const e of history) expect(e).not.toHaveProperty("pr_url");
    expect(Object.values<any>(world.state().repos.demo.agents).filter((a) => a.type === "worker")).toEqual([]);
  });
});
