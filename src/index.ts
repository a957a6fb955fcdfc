/** Public API of the package: the domain types and errors, and the REST client. */
export * from "./core/types.js";
export { CoordError, ERROR_STATUS, type ErrorCode } from "./core/errors.js";
export { Client, ApiError, ConnectionError, isApiError, isConnectionError, labelQuery } from "./client/index.js";
export type * from "./client/types.js";
export { loadConfig, resolveClientConfig, ConfigError, type Config, type ClientConfig, type ServerConfig } from "./config/index.js";
