import { TOKEN_ENV } from "../config/overrides.js";

/** Our own variables that hold a secret; never passed on to a worker. */
export const SECRET_ENV_NAMES: readonly string[] = [TOKEN_ENV];

/** A token at least this long is also looked for inside values (`Bearer <token>`, `https://x:<token>@host`). */
const MIN_SUBSTRING_TOKEN = 16;

export interface WorkerEnvOptions {
  /** The environment the agent itself runs with. */
  env: NodeJS.ProcessEnv;
  /** The coordinator token the agent uses, under whatever name it was given (flag, config, env). */
  token?: string;
}

/**
 * The environment for the commands the agent runs (multiclaude workers run Claude Code on task
 * text that anyone with a node token can write, so a task could ask it to print its
 * environment). Everything is kept (PATH, HOME, multiclaude's own API keys) except our secret
 * variables and every variable whose value is the coordinator token, whatever its name: a config
 * `token: "${COORD_TOKEN}"` leaves it in `COORD_TOKEN`. A long token is also looked for inside
 * values. Returns a new object; `env` is left as it is.
 */
export function workerEnv(options: WorkerEnvOptions): NodeJS.ProcessEnv {
  const token = options.token?.trim() ?? "";
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(options.env)) {
    if (value === undefined || SECRET_ENV_NAMES.includes(name)) continue;
    if (token && holdsToken(value, token)) continue;
    out[name] = value;
  }
  return out;
}

function holdsToken(value: string, token: string): boolean {
  if (value.trim() === token) return true;
  return token.length >= MIN_SUBSTRING_TOKEN && value.includes(token);
}
