import type { Command, Option } from "commander";

/** One flag as completion scripts need it. */
export interface OptionSpec {
  long: string;
  short?: string;
  description: string;
  takesValue: boolean;
  choices?: string[];
  /** The value is a path (complete file names). */
  file: boolean;
  /** A program-level flag, valid at every level. */
  global: boolean;
}

/** One command level: `""` (top), `tasks`, `tasks create`, ... */
export interface LevelSpec {
  path: string;
  /** Subcommand names with descriptions. */
  commands: { name: string; description: string }[];
  /** Every flag valid here: own, the default subcommand's, and the global ones. */
  options: OptionSpec[];
  /** Choices for the first positional argument (`completion bash|zsh|fish`). */
  argChoices?: string[];
}

const FILE_FLAGS = new Set(["--config"]);

function optionSpec(o: Option, global = false): OptionSpec | undefined {
  if (!o.long || o.hidden) return undefined;
  return {
    long: o.long,
    short: o.short,
    description: o.description,
    takesValue: o.required || o.optional,
    choices: o.argChoices,
    file: FILE_FLAGS.has(o.long),
    global,
  };
}

const HELP: OptionSpec = { long: "--help", short: "-h", description: "show help", takesValue: false, file: false, global: true };

/** Walks the commander program into one spec per command level, in a stable order. */
export function completionSpec(program: Command): LevelSpec[] {
  const globals = program.options.map((o) => optionSpec(o, true)).filter((o): o is OptionSpec => o !== undefined);
  const levels: LevelSpec[] = [];
  const walk = (cmd: Command, path: string) => {
    const own = cmd === program ? [] : cmd.options.map((o) => optionSpec(o)).filter((o): o is OptionSpec => o !== undefined);
    // `nodes --status x` runs the default subcommand `nodes list`, so its flags count here too.
    const defaultName = (cmd as unknown as { _defaultCommandName?: string })._defaultCommandName;
    const dflt = defaultName ? cmd.commands.find((c) => c.name() === defaultName) : undefined;
    const inherited = dflt ? dflt.options.map((o) => optionSpec(o)).filter((o): o is OptionSpec => o !== undefined) : [];
    const seen = new Set<string>();
    const options = [...own, ...inherited, ...globals, HELP].filter((o) => !seen.has(o.long) && seen.add(o.long));
    const arg = cmd.registeredArguments[0];
    levels.push({
      path,
      commands: cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => ({ name: c.name(), description: c.description() })),
      options,
      argChoices: arg?.argChoices,
    });
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, "");
  return levels;
}
