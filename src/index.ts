/** Public API of the package: the domain types and errors; the client is added by the client module. */
export * from "./core/types.js";
export { CoordError, ERROR_STATUS, type ErrorCode } from "./core/errors.js";
