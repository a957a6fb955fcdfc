import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { cosmiconfig, type CosmiconfigResult } from "cosmiconfig";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { ConfigError } from "./errors.js";
import { expandEnv } from "./expand.js";
import { normalizeConfig } from "./normalize.js";
import { multiclaudeHome } from "./paths.js";
import type { Config } from "./types.js";

export const CONFIG_FILE_NAME = "coordination.yaml";
export const CONFIG_ENV = "MULTICLAUDE_COORD_CONFIG";

export interface LoadConfigOptions {
  /** `--config FILE`; wins over everything else. */
  configPath?: string;
  /** Where the upward search starts (default `process.cwd()`). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

function yamlLoader(filepath: string, content: string): unknown {
  try {
    return parseYaml(content);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const at = pos ? `line ${pos.line}, column ${pos.col}` : "(parse)";
      // yaml ends its first line with its own " at line 3, column 1:" before a code excerpt;
      // the position is already in front, so that tail is dropped.
      const text = err.message.split("\n")[0]!.replace(/\s*at line \d+, column \d+:?\s*$/, "");
      throw new ConfigError([`${at}: ${text}`], filepath);
    }
    throw err;
  }
}

function explorer() {
  // One directory per search call (strategy "none"); the upward walk is ours, so the search
  // order is exactly the documented one (no XDG dirs, no package.json property).
  return cosmiconfig("multiclaude-coord", {
    searchPlaces: [CONFIG_FILE_NAME, "coordination.yml"],
    searchStrategy: "none",
    cache: false,
    loaders: { ".yaml": yamlLoader, ".yml": yamlLoader, noExt: yamlLoader, ".json": yamlLoader },
  });
}

/** Finds the file: `--config`, `$MULTICLAUDE_COORD_CONFIG`, `coordination.yaml` upward from cwd, `~/.multiclaude/`. */
async function findConfig(options: LoadConfigOptions, env: NodeJS.ProcessEnv): Promise<CosmiconfigResult> {
  const ex = explorer();
  const cwd = resolve(options.cwd ?? process.cwd());
  const explicit = options.configPath ?? (env[CONFIG_ENV] || undefined);
  if (explicit) {
    const file = resolve(cwd, explicit);
    const from = options.configPath ? "--config" : `$${CONFIG_ENV}`;
    if (!existsSync(file)) throw new ConfigError([`${from}: file ${file} does not exist`]);
    return ex.load(file);
  }
  for (let dir = cwd; ; dir = dirname(dir)) {
    const found = await ex.search(dir);
    if (found) return found;
    if (dirname(dir) === dir) break;
  }
  const home = join(multiclaudeHome(env), CONFIG_FILE_NAME);
  return existsSync(home) ? ex.load(home) : null;
}

/**
 * Loads and validates the configuration (DESIGN section 6). Without any file, returns the
 * defaults. Throws `ConfigError` listing every problem, one line each.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  let result: CosmiconfigResult;
  try {
    result = await findConfig(options, env);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([`${e.path ?? "config"}: ${e.code === "EACCES" ? "permission denied" : e.message}`]);
  }
  const problems: string[] = [];
  const expanded = expandEnv(result?.config ?? {}, env, problems);
  const config = normalizeConfig(expanded, env, problems);
  if (problems.length > 0) throw new ConfigError(problems, result?.filepath);
  if (result) config.source = result.filepath;
  return config;
}
