import type { LevelSpec, OptionSpec } from "./spec.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const BIN = "multiclaude-coord";
const HEADER = `generated from the CLI definition by \`${BIN} completion\`; test/cli/completions.test.ts keeps it in step`;

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** fish single quotes take `\'` and `\\` as escapes. */
const fsq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const dq = (s: string) => `"${s.replace(/(["\\$`])/g, "\\$1")}"`;
const short = (s: string) => s.replace(/\s+/g, " ").replace(/\s*\(.*$/, "").trim();

function words(level: LevelSpec): string[] {
  return [...level.commands.map((c) => c.name), ...(level.argChoices ?? []), ...level.options.flatMap((o) => [o.long])];
}

/** A case pattern: `"tasks:--repo"`, or `*":--url"` for a global flag at any level. */
const pat = (key: string) => (key.startsWith("*:") ? `*${dq(key.slice(1))}` : dq(key));

/** `(path, option)` pairs that take a value, grouped by what to complete. */
function valueCases(levels: LevelSpec[]) {
  const choices = new Map<string, string[]>();
  const dynamic = new Map<string, string[]>();
  const files: string[] = [];
  const free: string[] = [];
  for (const l of levels) {
    for (const o of l.options) {
      if (!o.takesValue || (o.global && l.path !== "")) continue;
      const keys = [o.long, ...(o.short ? [o.short] : [])].map((f) => (o.global ? `*:${f}` : `${l.path}:${f}`));
      if (o.choices) choices.set(o.choices.join(" "), [...(choices.get(o.choices.join(" ")) ?? []), ...keys]);
      else if (o.dynamic) dynamic.set(o.dynamic, [...(dynamic.get(o.dynamic) ?? []), ...keys]);
      else if (o.file) files.push(...keys);
      else free.push(...keys);
    }
  }
  return { choices, dynamic, files, free };
}

/**
 * The command that lists values from the coordinator: a short timeout and silence on any
 * failure (`__complete` prints nothing then), so completion never hangs or prints errors.
 */
const ask = (kind: string) => `${BIN} __complete ${kind} 2>/dev/null`;
/** The same for fish, which itself reports a command it cannot find (bash and zsh send that to the redirected stderr). */
const askFish = (kind: string) => `command -q ${BIN}; and ${ask(kind)}`;

function bash(levels: LevelSpec[]): string {
  const paths = levels.filter((l) => l.path).map((l) => dq(l.path));
  const { choices, dynamic, files, free } = valueCases(levels);
  const out = [
    `# bash completion for ${BIN}`,
    `# ${HEADER}`,
    `_multiclaude_coord() {`,
    `  local cur prev path w i words`,
    `  COMPREPLY=()`,
    `  cur="\${COMP_WORDS[COMP_CWORD]}"`,
    `  prev="\${COMP_WORDS[COMP_CWORD-1]}"`,
    `  path=""`,
    `  for ((i = 1; i < COMP_CWORD; i++)); do`,
    `    w="\${COMP_WORDS[i]}"`,
    `    case "$w" in -*) continue ;; esac`,
    `    case "\${path:+$path }$w" in`,
    `      ${paths.join("|")}) path="\${path:+$path }$w" ;;`,
    `    esac`,
    `  done`,
    `  case "$path:$prev" in`,
  ];
  for (const [list, keys] of choices) out.push(`    ${keys.map(pat).join("|")}) COMPREPLY=($(compgen -W ${dq(list)} -- "$cur")); return ;;`);
  for (const [kind, keys] of dynamic) out.push(`    ${keys.map(pat).join("|")}) COMPREPLY=($(compgen -W "$(${ask(kind)})" -- "$cur")); return ;;`);
  if (files.length) out.push(`    ${files.map(pat).join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`);
  if (free.length) out.push(`    ${free.map(pat).join("|")}) return ;;`);
  out.push(`  esac`, `  case "$path" in`);
  for (const l of levels) {
    const dyn = l.argDynamic ? `; [[ $cur == -* ]] || words="$words $(${ask(l.argDynamic)})"` : "";
    out.push(`    ${dq(l.path)}) words=${dq(words(l).join(" "))}${dyn} ;;`);
  }
  out.push(`  esac`, `  COMPREPLY=($(compgen -W "$words" -- "$cur"))`, `}`, `complete -F _multiclaude_coord ${BIN}`, ``);
  return out.join("\n");
}

function zshOption(o: OptionSpec): string {
  return sq(`${o.long}:${short(o.description)}`);
}

function zsh(levels: LevelSpec[]): string {
  const paths = levels.filter((l) => l.path).map((l) => dq(l.path));
  const { choices, dynamic, files, free } = valueCases(levels);
  const out = [
    `#compdef ${BIN}`,
    `# zsh completion for ${BIN}`,
    `# ${HEADER}`,
    `_multiclaude_coord() {`,
    `  local path_="" w i prev`,
    `  local -a cmds opts dyn`,
    `  for ((i = 2; i < CURRENT; i++)); do`,
    `    w=\${words[i]}`,
    `    [[ $w == -* ]] && continue`,
    `    case "\${path_:+$path_ }$w" in`,
    `      ${paths.join("|")}) path_="\${path_:+$path_ }$w" ;;`,
    `    esac`,
    `  done`,
    `  prev=\${words[CURRENT-1]}`,
    `  case "$path_:$prev" in`,
  ];
  for (const [list, keys] of choices) out.push(`    ${keys.map(pat).join("|")}) compadd -- ${list}; return ;;`);
  for (const [kind, keys] of dynamic) out.push(`    ${keys.map(pat).join("|")}) compadd -- \${(f)"$(${ask(kind)})"}; return ;;`);
  if (files.length) out.push(`    ${files.map(pat).join("|")}) _files; return ;;`);
  if (free.length) out.push(`    ${free.map(pat).join("|")}) _message 'value'; return ;;`);
  out.push(`  esac`, `  case "$path_" in`);
  for (const l of levels) {
    const cmds = [...l.commands.map((c) => sq(`${c.name}:${short(c.description)}`)), ...(l.argChoices ?? []).map((c) => sq(c))];
    const dyn = l.argDynamic ? [`      [[ $PREFIX == -* ]] || dyn=(\${(f)"$(${ask(l.argDynamic)})"})`] : [];
    out.push(`    ${dq(l.path)})`, `      cmds=(${cmds.join(" ")})`, ...dyn, `      opts=(${l.options.map(zshOption).join(" ")}) ;;`);
  }
  out.push(
    `  esac`,
    // The status says whether anything was offered (zsh then tries no other completer).
    `  local ret=1`,
    `  if [[ $PREFIX == -* ]]; then`,
    `    _describe 'option' opts && ret=0`,
    `  else`,
    `    _describe 'command' cmds && ret=0`,
    `    (( \${#dyn} )) && compadd -- $dyn && ret=0`,
    `  fi`,
    `  return $ret`,
    `}`,
    `if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then`,
    `  _multiclaude_coord "$@"`,
    `else`,
    `  compdef _multiclaude_coord ${BIN}`,
    `fi`,
    ``,
  );
  return out.join("\n");
}

function fishOption(o: OptionSpec, cond: string): string {
  const flags = [`-l ${o.long.slice(2)}`, ...(o.short ? [`-s ${o.short.slice(1)}`] : [])].join(" ");
  const value = !o.takesValue
    ? ""
    : o.choices
      ? ` -x -a ${fsq(o.choices.join(" "))}`
      : o.dynamic
        ? ` -x -a ${fsq(`(${askFish(o.dynamic)})`)}`
        : o.file
          ? " -r -F"
          : " -x";
  return `complete -c ${BIN}${cond} ${flags}${value} -d ${fsq(short(o.description))}`;
}

function fish(levels: LevelSpec[]): string {
  const paths = levels.filter((l) => l.path).map((l) => fsq(l.path));
  const out = [
    `# fish completion for ${BIN}`,
    `# ${HEADER}`,
    `function __multiclaude_coord_path`,
    `    set -l path`,
    `    for w in (commandline -opc)[2..-1]`,
    `        string match -q -- '-*' $w; and continue`,
    `        if contains -- (string join ' ' $path $w) ${paths.join(" ")}`,
    `            set path $path $w`,
    `        end`,
    `    end`,
    `    string join ' ' $path`,
    `end`,
    `function __multiclaude_coord_at`,
    `    set -l p (__multiclaude_coord_path)`,
    `    test "$p" = "$argv[1]"`,
    `end`,
    `complete -c ${BIN} -f`,
    `# global flags, valid after any command`,
    ...levels[0]!.options.filter((o) => o.global).map((o) => fishOption(o, "")),
  ];
  for (const l of levels) {
    const cond = ` -n '__multiclaude_coord_at "${l.path}"'`;
    for (const c of l.commands) out.push(`complete -c ${BIN}${cond} -a ${c.name} -d ${fsq(short(c.description))}`);
    if (l.argChoices) out.push(`complete -c ${BIN}${cond} -a ${fsq(l.argChoices.join(" "))}`);
    if (l.argDynamic) out.push(`complete -c ${BIN}${cond} -a ${fsq(`(${askFish(l.argDynamic)})`)}`);
    for (const o of l.options) if (!o.global) out.push(fishOption(o, cond));
  }
  out.push(``);
  return out.join("\n");
}

/** The completion script for `shell`, generated from the program's commands and flags. */
export function generateCompletion(shell: Shell, levels: LevelSpec[]): string {
  return shell === "bash" ? bash(levels) : shell === "zsh" ? zsh(levels) : fish(levels);
}
