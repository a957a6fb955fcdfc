import { CommanderError } from "commander";
import type { CliIO } from "./context.js";
import { classifyError, EXIT } from "./errors.js";
import { escapeTerminal } from "./output/sanitize.js";
import { buildProgram } from "./program.js";
import type { Session } from "./runner.js";

function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/**
 * Runs the CLI with `argv` (as `process.argv`: node, script, args...). The one place that
 * turns errors into exit codes (DESIGN section 8) and one line on stderr; stack traces only
 * with MULTICLAUDE_COORD_DEBUG=1. Sets `process.exitCode` and also returns it.
 */
export async function main(argv: string[] = process.argv, io: CliIO = defaultIO()): Promise<number> {
  const session: Session = {};
  let code: number = EXIT.OK;
  try {
    const program = buildProgram(io, session);
    await program.parseAsync(argv);
    code = session.exitCode ?? EXIT.OK;
  } catch (err) {
    const { exitCode, message, bug } = classifyError(err);
    code = exitCode;
    // commander has printed its own message already.
    if (!(err instanceof CommanderError)) {
      io.stderr.write(`error: ${escapeTerminal(message)}\n`);
      if (bug && io.env.MULTICLAUDE_COORD_DEBUG && err instanceof Error) io.stderr.write(`${err.stack}\n`);
    }
  } finally {
    await session.ctx?.close();
  }
  process.exitCode = code;
  return code;
}
