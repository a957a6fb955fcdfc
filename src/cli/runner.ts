import { CommanderError, type Command } from "commander";
import { UserError } from "./errors.js";
import type { OutputFormat } from "./output/output.js";
import { CommandContext, type CliIO, type GlobalOptions } from "./context.js";

/** What a run leaves behind for main(): the context to close and the exit code. */
export interface Session {
  ctx?: CommandContext;
  exitCode?: number;
}

/** A command body: typed options in, an exit code (default 0) out. */
export type CommandHandler<O, A extends unknown[] = []> = (ctx: CommandContext, options: O, ...args: A) => Promise<number | void>;

/** Wraps command bodies into commander actions that build the shared context first. */
export type Runner = <O, A extends unknown[] = []>(handler: CommandHandler<O, A>) => (...args: unknown[]) => Promise<void>;

function globalsOf(command: Command): GlobalOptions {
  const g = command.optsWithGlobals<Record<string, unknown>>();
  return {
    url: g.url as string | undefined,
    token: g.token as string | undefined,
    config: g.config as string | undefined,
    json: g.json === true || g.output === "json",
    format: (g.output as OutputFormat | undefined) ?? "table",
    color: g.color !== false,
    timeout: g.timeout as number | undefined,
  };
}

export function createRunner(io: CliIO, session: Session): Runner {
  return <O, A extends unknown[]>(handler: CommandHandler<O, A>) =>
    async (...args: unknown[]) => {
      // commander passes (...positionals, options, command).
      const command = args[args.length - 1] as Command;
      const options = args[args.length - 2] as O;
      const positionals = args.slice(0, -2) as A;
      const ctx = new CommandContext(io, globalsOf(command));
      session.ctx = ctx;
      try {
        session.exitCode = (await handler(ctx, options, ...positionals)) ?? 0;
      } catch (err) {
        // main() leaves CommanderErrors unprinted (commander prints those it raises while
        // parsing); one raised inside an action would otherwise exit 2 in silence.
        if (err instanceof CommanderError) throw new UserError(err.message.replace(/^error: /, ""));
        throw err;
      }
    };
}
