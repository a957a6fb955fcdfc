import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { completionFile } from "../../src/cli/commands/completion.js";
import { generateCompletion, SHELLS } from "../../src/cli/completion/generate.js";
import { completionSpec } from "../../src/cli/completion/spec.js";
import { buildProgram } from "../../src/cli/program.js";
import { bashCompletionScript } from "./bash-completion.js";

const sink = { write: () => true };
const program = buildProgram({ stdout: sink, stderr: sink, env: {}, cwd: process.cwd() });
const levels = completionSpec(program);

/** Asks the bash completion function what it offers after `words` (the last word is being typed). */
function bashComplete(...words: string[]): string[] {
  return execFileSync("bash", ["-c", bashCompletionScript(words)], { encoding: "utf8" }).split("\n").filter(Boolean);
}

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

  it("bash offers commands, subcommands, per-command flags and flag values", () => {
    expect(bashComplete("ta")).toEqual(["tasks"]);
    expect(bashComplete("tasks", "c")).toEqual(expect.arrayContaining(["create", "claim", "complete", "cancel"]));
    expect(bashComplete("tasks", "create", "--")).toEqual(expect.arrayContaining(["--repo", "--description", "--priority", "--label", "--json", "--url"]));
    expect(bashComplete("tasks", "create", "--priority", "")).toEqual(["critical", "high", "medium", "low"]);
    expect(bashComplete("--json", "tasks", "claim", "--")).toEqual(expect.arrayContaining(["--next", "--wait", "--worker"]));
    expect(bashComplete("nodes", "--status", "o")).toEqual(["online", "offline"]);
    expect(bashComplete("completion", "")).toEqual(expect.arrayContaining(["bash", "zsh", "fish"]));
    // A free-form value gets no suggestions rather than command names.
    expect(bashComplete("tasks", "create", "--repo", "")).toEqual([]);
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
