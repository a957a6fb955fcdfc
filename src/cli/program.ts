import { Command, Option } from "commander";
import { registerAgent } from "./commands/agent.js";
import { registerCompletion } from "./commands/completion.js";
import { registerEvents } from "./commands/events.js";
import { registerMessages } from "./commands/messages.js";
import { registerNodes } from "./commands/nodes.js";
import { registerNodeCommands } from "./commands/register.js";
import { registerServe } from "./commands/serve.js";
import { registerStatus } from "./commands/status.js";
import { registerTasks } from "./commands/tasks.js";
import type { CliIO } from "./context.js";
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
    .option("--no-color", "no colour (also NO_COLOR=1, or when stdout is not a terminal)")
    .addOption(new Option("--timeout <seconds>", "per-request timeout (long polls add their wait)").argParser(secondsArg))
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  const run = createRunner(io, session);
  registerServe(program, run);
  registerStatus(program, run);
  registerNodes(program, run);
  registerTasks(program, run);
  registerNodeCommands(program, run);
  registerAgent(program, run);
  registerEvents(program, run);
  registerMessages(program, run);
  registerCompletion(program, run);
  // Subcommands copied exitOverride/configureOutput from the program when they were created.
  return program;
}
