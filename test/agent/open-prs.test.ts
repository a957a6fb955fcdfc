/**
 * The agent's open-PR count asks gh (the stand-in, which reads multiclaude's state.json as
 * GitHub would see the pushed branches) and refreshes when a worker finishes, also when the new
 * worker got the name, and so the branch, of an earlier one whose worktree is gone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { McState } from "../../src/agent/multiclaude-state.js";
import { createOpenPrCounter } from "../../src/agent/open-prs.js";
import { waitFor } from "../fixtures/agent-harness.js";

const ghBin = join(import.meta.dirname, "../fixtures/gh-bin");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const home = mkdtempSync(join(tmpdir(), "mcc-open-prs-"));
  dirs.push(home);
  const mcHome = join(home, ".multiclaude");
  mkdirSync(join(mcHome, "repos", "app"), { recursive: true });
  const write = (branches: string[]): McState => {
    const state = {
      repos: { app: { agents: {}, task_history: branches.map((b) => ({ name: b, branch: `work/${b}`, status: "unknown" })) } },
    } as unknown as McState;
    writeFileSync(join(mcHome, "state.json"), JSON.stringify(state));
    return state;
  };
  const env = { ...process.env, HOME: home, PATH: `${ghBin}${delimiter}${process.env.PATH}` };
  return { counter: createOpenPrCounter({ multiclaudeHome: mcHome, env }), write };
}

describe("open PR counter", () => {
  it("counts gh's open PRs of this node's branches and recounts when a worker finishes", async () => {
    const { counter, write } = setup();
    let state = write(["proud-tiger", "silly-deer"]);
    // Without a count yet, the history's own `open` entries (none: multiclaude says unknown).
    expect(counter.count("app", state)).toBe(0);
    await waitFor(() => (counter.count("app", state) === 2 ? true : undefined), "gh's count of 2", 10_000, 20);
    state = write(["proud-tiger", "silly-deer", "brave-owl"]);
    await waitFor(() => (counter.count("app", state) === 3 ? true : undefined), "a recount after a finish", 10_000, 20);
  });

  it("recounts when the finished worker reused an earlier worker's name", async () => {
    const { counter, write } = setup();
    let state = write(["proud-tiger", "silly-deer"]);
    await waitFor(() => (counter.count("app", state) === 2 ? true : undefined), "gh's count of 2", 10_000, 20);
    // Same set of branches, one more finished worker (and, in gh's world, one more PR).
    state = write(["proud-tiger", "silly-deer", "proud-tiger"]);
    await waitFor(() => (counter.count("app", state) === 3 ? true : undefined), "a recount after a reused name finished", 10_000, 20);
  });
});
