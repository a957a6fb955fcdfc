import { completionFile } from "../../src/cli/commands/completion.js";

const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

/**
 * A bash script that sources the shipped completion, asks it what it offers after `words` (the
 * last word is the one being typed) and prints the offers one a line, as a user's shell would.
 */
export function bashCompletionScript(words: string[]): string {
  return `
source ${JSON.stringify(completionFile("bash"))}
COMP_WORDS=(multiclaude-coord ${words.map(quote).join(" ")})
COMP_CWORD=${words.length}
_multiclaude_coord
printf '%s\\n' "\${COMPREPLY[@]}"`;
}

/**
 * A zsh script that runs the shipped completion function on `words` and prints every match it
 * hands to zsh, one a line. The script talks to zsh's completion system only through `compadd`,
 * `_describe`, `_files`, `_message` and `compdef`, which exist only inside a completion widget; here they
 * print what they were given instead (`_describe` takes `name:description` entries), and zsh's
 * own matching (the typed prefix) is applied by the caller.
 */
export function zshCompletionScript(words: string[]): string {
  return `
compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
_describe() { local e; for e in "\${(@P)2}"; do print -r -- "\${e%%:*}"; done }
_files() { print -r -- '<files>' }
_message() { : }
# Sourcing the file registers the function; a wrong name would leave the command without completion.
compdef() { [[ $1 == _multiclaude_coord && $2 == multiclaude-coord ]] || { print -u2 "compdef $*"; exit 3 } }
source ${JSON.stringify(completionFile("zsh"))}
words=(multiclaude-coord ${words.map(quote).join(" ")})
CURRENT=${words.length + 1}
PREFIX=${quote(words.at(-1) ?? "")}
_multiclaude_coord`;
}

/** The fish command that asks the shipped completion what it offers for a command line (`complete -C`). */
export function fishCompletionScript(words: string[]): string {
  return `source ${JSON.stringify(completionFile("fish"))}; complete -C ${quote(["multiclaude-coord", ...words].join(" "))}`;
}
