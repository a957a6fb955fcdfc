/**
 * An error answer of the coordinator: the envelope's `code`, the HTTP `status` and the
 * `details` (e.g. `claimed_by` for `TASK_CLAIMED`).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  /** Seconds the server asked us to wait (429/503 `Retry-After`). */
  readonly retryAfterSeconds?: number;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, retryAfterSeconds?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The coordinator could not be reached, or did not answer in time; nothing is known about the outcome. */
export class ConnectionError extends Error {
  readonly code: "UNREACHABLE" | "TIMEOUT";
  /** The base URL that was tried. */
  readonly url: string;

  constructor(code: "UNREACHABLE" | "TIMEOUT", url: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
    this.code = code;
    this.url = url;
  }
}

export function isApiError(err: unknown, code?: string): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

export function isConnectionError(err: unknown): err is ConnectionError {
  return err instanceof ConnectionError;
}

/** Fallback codes for answers that are not our envelope (a proxy's 502, say). */
export function codeForStatus(status: number): string {
  if (status === 400) return "INVALID_REQUEST";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 409) return "CONFLICT";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 429) return "RATE_LIMITED";
  if (status === 502 || status === 503 || status === 504) return "UNAVAILABLE";
  return status >= 500 ? "INTERNAL" : `HTTP_${status}`;
}
