import { completionFile } from "../../src/cli/commands/completion.js";

/**
 * A bash script that sources the shipped completion, asks it what it offers after `words` (the
 * last word is the one being typed) and prints the offers one a line, as a user's shell would.
 */
export function bashCompletionScript(words: string[]): string {
  return `
source ${JSON.stringify(completionFile("bash"))}
COMP_WORDS=(multiclaude-coord ${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length}
_multiclaude_coord
printf '%s\\n' "\${COMPREPLY[@]}"`;
}
