import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { completionFile } from "../../src/cli/commands/completion.js";
import { generateCompletion, SHELLS } from "../../src/cli/completion/generate.js";
import { completionSpec } from "../../src/cli/completion/spec.js";
import { buildProgram } from "../../src/cli/program.js";
import { bashCompletionScript, fishCompletionScript, zshCompletionScript } from "./shell-completion.js";

const sink = { write: () => true };
const program = buildProgram({ stdout: sink, stderr: sink, env: {}, cwd: process.cwd() });
const levels = completionSpec(program);

/** Whether a shell is installed here (a developer may lack zsh or fish). */
const has = (shell: string) => {
  try {
    execFileSync("which", [shell], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/**
 * Runs a shell and returns its stdout lines; it must succeed and print nothing on stderr (a
 * completion that prints an error mid-line garbles the user's prompt). PATH has no
 * multiclaude-coord here, so the values asked of the coordinator come back empty.
 */
function shell(cmd: string, args: string[]): string[] {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  return r.stdout.split("\n").filter(Boolean);
}

/** What each shell's completion offers after `words` (the last word is the one being typed), as the shell would list it. */
const complete: Record<(typeof SHELLS)[number], (words: string[]) => string[]> = {
  bash: (words) => shell("bash", ["-c", bashCompletionScript(words)]),
  zsh: (words) => {
    const typed = words.at(-1) ?? "";
    return [...new Set(shell("zsh", ["-f", "-c", zshCompletionScript(words)]).filter((o) => o.startsWith(typed)))];
  },
  fish: (words) => shell("fish", ["--no-config", "-c", fishCompletionScript(words)]).map((line) => line.split("\t")[0]!),
};

describe("shell completions", () => {
  it.each(SHELLS)("completions/multiclaude-coord.%s matches the commander program", (shell) => {
    const expected = generateCompletion(shell, levels);
    // UPDATE_COMPLETIONS=1 npx vitest run test/cli/completions.test.ts rewrites the files.
    if (process.env.UPDATE_COMPLETIONS) writeFileSync(completionFile(shell), expected);
    expect(readFileSync(completionFile(shell), "utf8"), `run UPDATE_COMPLETIONS=1 npx vitest run ${__filename}`).toBe(expected);
  });

  it("covers every command and every long flag in every shell", () => {
    const commands = levels.filter((l) => l.path).map((l) => l.path.split(" ").at(-1)!);
    expect(commands).toEqual(expect.arrayContaining(["serve", "status", "nodes", "show", "forget", "tasks", "create", "claim", "complete", "fail", "release", "cancel", "register", "events", "messages", "send", "ack", "completion"]));
    for (const shell of SHELLS) {
      const text = readFileSync(completionFile(shell), "utf8");
      for (const l of levels) {
        for (const c of l.commands) expect(text, `${shell}: ${l.path} ${c.name}`).toContain(c.name);
        for (const o of l.options) expect(text, `${shell}: ${l.path} ${o.long}`).toContain(shell === "fish" ? `-l ${o.long.slice(2)}` : o.long);
      }
    }
  });

  // In CI every shell must be there (.ci/run installs them): a missing one fails rather than skips.
  it.each(SHELLS.filter((s) => process.env.CI || has(s)))("%s offers commands, subcommands, per-command flags and flag values", (shell) => {
    const offers = (...words: string[]) => complete[shell](words).sort();
    expect(offers("ta")).toEqual(["tasks"]);
    expect(offers("tasks", "c")).toEqual(expect.arrayContaining(["create", "claim", "complete", "cancel"]));
    expect(offers("tasks", "c")).not.toContain("list");
    expect(offers("tasks", "create", "--")).toEqual(expect.arrayContaining(["--repo", "--description", "--priority", "--label", "--depends-on", "--json", "--url"]));
    expect(offers("tasks", "create", "--")).not.toContain("--next");
    expect(offers("tasks", "create", "--priority", "")).toEqual(["critical", "high", "low", "medium"]);
    expect(offers("--json", "tasks", "claim", "--")).toEqual(expect.arrayContaining(["--next", "--wait", "--worker"]));
    expect(offers("nodes", "--status", "o")).toEqual(["offline", "online"]);
    expect(offers("nodes", "list", "--status", "")).toEqual(["deregistered", "offline", "online"]);
    expect(offers("completion", "")).toEqual(expect.arrayContaining(["bash", "zsh", "fish"]));
    expect(offers("messages", "")).toEqual(expect.arrayContaining(["ack", "list", "send"]));
    // Values asked of the coordinator: none here (no coordinator, no binary), and no error either.
    expect(offers("tasks", "show", "").filter((o) => !o.startsWith("-"))).toEqual([]);
    // A free-form value gets no suggestions rather than command names.
    expect(offers("tasks", "create", "--repo", "")).toEqual([]);
  });

  it("the scripts are valid shell syntax", () => {
    execFileSync("bash", ["-n", completionFile("bash")]);
    for (const [shell, flag] of [["zsh", "-n"], ["fish", "--no-execute"]] as const) {
      try {
        execFileSync("which", [shell], { stdio: "ignore" });
      } catch {
        continue; // that shell is not installed here
      }
      execFileSync(shell, [flag, completionFile(shell)]);
    }
  });
});
