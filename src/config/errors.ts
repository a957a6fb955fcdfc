/**
 * A configuration file (or flag) that cannot be used. `problems` holds one line per problem,
 * each starting with the key it is about (`server.listen_addr: ...`); the CLI exits with 2.
 */
export class ConfigError extends Error {
  readonly problems: string[];
  readonly source?: string;

  constructor(problems: string[], source?: string) {
    const where = source ? ` in ${source}` : "";
    super(
      problems.length === 1
        ? `invalid configuration${where}: ${problems[0]}`
        : `invalid configuration${where}:\n  ${problems.join("\n  ")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
    this.source = source;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
