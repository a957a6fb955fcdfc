import { Command, Option } from "commander";
import { registerAgent } from "./commands/agent.js";
import { registerComplete } from "./commands/complete.js";
import { registerCompletion } from "./commands/completion.js";
import { registerConfig } from "./commands/config.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerEvents } from "./commands/events.js";
import { registerMessages } from "./commands/messages.js";
import { registerNodes } from "./commands/nodes.js";
import { registerNodeCommands } from "./commands/register.js";
import { registerServe } from "./commands/serve.js";
import { registerState } from "./commands/state.js";
import { registerStatus } from "./commands/status.js";
import { registerTasks } from "./commands/tasks.js";
import { registerWebhooks } from "./commands/webhooks.js";
import type { CliIO } from "./context.js";
import { OUTPUT_FORMATS } from "./output/output.js";
import { examples, HELP_SETTINGS } from "./help.js";
import { secondsArg } from "./parse.js";
import { createRunner, type Session } from "./runner.js";

export const VERSION = "0.1.0";

/**
 * The whole command line in one place: global flags and every command. `session` receives
 * the context and exit code of the command that ran, for main().
 */
export function buildProgram(io: CliIO, session: Session = {}): Command {
  const program = new Command("multiclaude-coord")
    .description("Coordinate multiclaude agents across machines: tasks, nodes, events, messages")
    .version(VERSION, "-V, --version")
    .option("--url <url>", "coordinator URL (default $MULTICLAUDE_COORD_URL, coordination.server_url, http://127.0.0.1:7331)")
    .option("--token <token>", "bearer token (default $MULTICLAUDE_COORD_TOKEN, coordination.token, ~/.multiclaude/coordination-token)")
    .option("--config <file>", "config file (default $MULTICLAUDE_COORD_CONFIG, ./coordination.yaml upward, ~/.multiclaude/coordination.yaml)")
    .option("--json", "print the API's data as JSON on stdout (events: one object per line)", false)
    .addOption(new Option("-o, --output <format>", "lists: table (default), wide (more columns, nothing cut), name (ids only), json (= --json)").choices(OUTPUT_FORMATS))
    .option("--no-color", "no colour (also NO_COLOR=1, or when stdout is not a terminal)")
    .addOption(new Option("--timeout <seconds>", "per-request timeout (long polls add their wait)").argParser(secondsArg))
    .configureHelp(HELP_SETTINGS)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  program.addHelpText(
    "after",
    examples(
    "serve --listen :7331",
    "register --node-id machine-b --label pool=gpu --max-workers 5",
    'tasks create --repo web --description "Fix the login page" --label pool=gpu',
    "tasks claim --next --wait 60 --worker worker-1",
    "nodes -o wide",
    "doctor",
    ),
  );
  const run = createRunner(io, session);
  registerServe(program, run);
  registerStatus(program, run);
  registerNodes(program, run);
  registerState(program, run);
  registerTasks(program, run);
  registerNodeCommands(program, run);
  registerAgent(program, run);
  registerEvents(program, run);
  registerMessages(program, run);
  registerWebhooks(program, run);
  registerDoctor(program, run);
  registerConfig(program, run);
  registerCompletion(program, run);
  registerComplete(program, run);
  // Subcommands copied exitOverride/configureOutput from the program when they were created.
  return program;
}
