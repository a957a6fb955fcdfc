import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Argument, type Command } from "commander";
import { generateCompletion, SHELLS, type Shell } from "../completion/generate.js";
import { completionSpec } from "../completion/spec.js";
import type { Runner } from "../runner.js";

/** `completions/` of the package: three levels up from both src/cli/commands and dist/cli/commands. */
export function completionFile(shell: Shell): string {
  return fileURLToPath(new URL(`../../../completions/multiclaude-coord.${shell}`, import.meta.url));
}

/** `completion bash|zsh|fish`: prints the shipped script (generated from the program if missing). */
export function registerCompletion(program: Command, run: Runner): void {
  program
    .command("completion")
    .description("Print the shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .addHelpText(
      "after",
      `
Install:
  bash  echo 'source <(multiclaude-coord completion bash)' >> ~/.bashrc
  zsh   multiclaude-coord completion zsh > "\${fpath[1]}/_multiclaude-coord"
  fish  multiclaude-coord completion fish > ~/.config/fish/completions/multiclaude-coord.fish`,
    )
    .action(
      run<Record<string, never>, [Shell]>(async (ctx, _opts, shell) => {
        const file = completionFile(shell);
        ctx.out.plain(existsSync(file) ? readFileSync(file, "utf8").trimEnd() : generateCompletion(shell, completionSpec(program)).trimEnd());
      }),
    );
}
