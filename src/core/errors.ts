/** Every error the coordinator can answer with, and its HTTP status. One table, used by the server and the CLI. */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_CLAIMANT: 403,
  NOT_RECIPIENT: 403,
  CSRF_TOKEN_INVALID: 403,
  NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  NODE_NOT_FOUND: 404,
  REGISTRATION_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  TASK_CLAIMED: 409,
  TASK_NOT_CLAIMABLE: 409,
  TASK_NOT_RETRYABLE: 409,
  NODE_AT_CAPACITY: 409,
  LABELS_NOT_SATISFIED: 409,
  NODE_OFFLINE: 409,
  NODE_CORDONED: 409,
  CONCURRENCY_LIMIT: 409,
  NODE_OWNED: 409,
  IDEMPOTENCY_CONFLICT: 409,
  TOO_MANY_DEPENDENTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * The one error type of the project. `code` is the API's UPPER_SNAKE code; `details` is sent
 * to the client as is, so it must never carry secrets.
 */
export class CoordError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "CoordError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isCoordError(err: unknown): err is CoordError {
  return err instanceof CoordError;
}

/** Thrown by a store when an optimistic transaction lost a race; the store retries it. */
export class TxConflict extends Error {
  constructor() {
    super("transaction conflict");
    this.name = "TxConflict";
  }
}
