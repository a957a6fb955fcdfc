import type { Help, Option } from "commander";

/** An `Examples:` block for `.addHelpText("after", …)`, each line a command as typed. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ multiclaude-coord ${l}`).join("\n")}\n`;
}

/**
 * Help settings for every command (subcommands copy them when created): the global flags
 * shown under each subcommand's own, and required options marked as such.
 */
export const HELP_SETTINGS: Partial<Help> = {
  showGlobalOptions: true,
  optionDescription(this: Help, option: Option): string {
    const base = Object.getPrototypeOf(this).optionDescription.call(this, option) as string;
    return option.mandatory ? `${base} (required)` : base;
  },
};
