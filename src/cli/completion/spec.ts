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
  /** Values asked of the coordinator (`__complete KIND`): ids, repos, event types. */
  dynamic?: DynamicKind;
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
  /** The first positional argument's values, asked of the coordinator. */
  argDynamic?: DynamicKind;
}

/** What `__complete` can list (see commands/complete.ts). */
export const DYNAMIC_KINDS = ["tasks", "pending-tasks", "claimed-tasks", "nodes", "repos", "event-types", "messages"] as const;
export type DynamicKind = (typeof DYNAMIC_KINDS)[number];

/** Flags whose values come from the coordinator, wherever they appear. */
const DYNAMIC_FLAGS: Record<string, DynamicKind> = { "--repo": "repos", "--node": "nodes", "--type": "event-types" };

/** Positional arguments whose values come from the coordinator, by command path. */
const DYNAMIC_ARGS: Record<string, DynamicKind> = {
  "tasks show": "tasks",
  "tasks cancel": "tasks",
  "tasks retry": "tasks",
  "tasks claim": "pending-tasks",
  "tasks complete": "claimed-tasks",
  "tasks fail": "claimed-tasks",
  "tasks release": "claimed-tasks",
  "nodes show": "nodes",
  "nodes forget": "nodes",
  "nodes cordon": "nodes",
  "nodes uncordon": "nodes",
  state: "repos",
  "messages ack": "messages",
};

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
    ...(DYNAMIC_FLAGS[o.long] ? { dynamic: DYNAMIC_FLAGS[o.long] } : {}),
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
      ...(DYNAMIC_ARGS[path] ? { argDynamic: DYNAMIC_ARGS[path] } : {}),
    });
    for (const sub of cmd.commands) {
      if (!(sub as unknown as { _hidden?: boolean })._hidden) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
    }
  };
  walk(program, "");
  return levels;
}
