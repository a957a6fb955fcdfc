/** The REST client of the coordination API. */
export { Client, labelQuery } from "./client.js";
export { ApiError, ConnectionError, isApiError, isConnectionError } from "./errors.js";
export type * from "./types.js";
