/** Configuration: one YAML file for `serve` and for clients (DESIGN section 6). */
export * from "./types.js";
export * from "./paths.js";
export { ConfigError, isConfigError } from "./errors.js";
export { expandEnv, expandString } from "./expand.js";
export { loadConfig, CONFIG_ENV, CONFIG_FILE_NAME, type LoadConfigOptions } from "./load.js";
export { normalizeConfig, parseListenAddr, tokenName, DEFAULT_SERVER_URL, DEFAULT_CLIENT_TIMEOUT_MS } from "./normalize.js";
export {
  resolveClientConfig,
  resolveServerConfig,
  URL_ENV,
  TOKEN_ENV,
  type ClientFlags,
  type ServerFlags,
  type TokenSource,
} from "./overrides.js";
