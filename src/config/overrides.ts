import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "./errors.js";
import { parseListenAddr } from "./normalize.js";
import { defaultTokenFile } from "./paths.js";
import type { ClientConfig, Config, ServerConfig } from "./types.js";

export const URL_ENV = "MULTICLAUDE_COORD_URL";
export const TOKEN_ENV = "MULTICLAUDE_COORD_TOKEN";

/** Client settings given on the command line; each wins over env, file and defaults. */
export interface ClientFlags {
  url?: string;
  token?: string;
  timeoutSeconds?: number;
}

/** Where the effective token came from (for messages such as "unauthorized (token from ...)"). */
export type TokenSource = "flag" | "env" | "config" | "token-file" | "none";

/**
 * Applies flags > environment > file > defaults to the client side; with no token anywhere,
 * falls back to the admin token that `serve` wrote on this machine.
 */
export function resolveClientConfig(
  config: Config,
  flags: ClientFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): ClientConfig & { token_source: TokenSource } {
  const c = { ...config.coordination };
  const url = flags.url ?? (env[URL_ENV] || undefined);
  if (url !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(url)) {
      throw new ConfigError([`${flags.url !== undefined ? "--url" : URL_ENV}: expected an http:// or https:// URL, got ${JSON.stringify(url)}`]);
    }
    c.server_url = url;
  }
  let source: TokenSource = c.token ? "config" : "none";
  if (flags.token !== undefined) {
    c.token = flags.token;
    source = "flag";
  } else if (env[TOKEN_ENV]) {
    c.token = env[TOKEN_ENV];
    source = "env";
  }
  if (!c.token) {
    const file = defaultTokenFile(env);
    if (existsSync(file)) {
      const token = readFileSync(file, "utf8").trim();
      if (token) {
        c.token = token;
        source = "token-file";
      }
    }
  }
  if (flags.timeoutSeconds !== undefined) {
    if (!Number.isFinite(flags.timeoutSeconds) || flags.timeoutSeconds <= 0) {
      throw new ConfigError([`--timeout: expected a number of seconds > 0, got ${flags.timeoutSeconds}`]);
    }
    c.timeout_ms = flags.timeoutSeconds * 1000;
  }
  return { ...c, token_source: source };
}

/** Server settings given to `serve` on the command line. */
export interface ServerFlags {
  listen?: string;
  store?: string;
}

/** Applies `serve`'s flags on top of the file's server section. */
export function resolveServerConfig(config: Config, flags: ServerFlags = {}): ServerConfig {
  const s = { ...config.server };
  const problems: string[] = [];
  if (flags.listen !== undefined) {
    try {
      s.listen = parseListenAddr(flags.listen);
    } catch (err) {
      problems.push(`--listen: ${(err as Error).message}`);
    }
  }
  if (flags.store !== undefined) {
    if (!/^(sqlite|memory|redis|rediss|redis\+sentinel|rediss\+sentinel):\/\//.test(flags.store)) {
      problems.push(`--store: expected sqlite://PATH, memory://, redis://HOST:PORT/DB or redis+sentinel://HOST:PORT,…/MASTERNAME/DB, got ${JSON.stringify(flags.store)}`);
    }
    s.store = flags.store;
  }
  if (problems.length) throw new ConfigError(problems);
  return s;
}
