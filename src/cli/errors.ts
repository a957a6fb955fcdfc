import { CommanderError } from "commander";
import { ApiError, ConnectionError } from "../client/errors.js";
import { ConfigError } from "../config/errors.js";
import { CoordError } from "../core/errors.js";

/** Exit codes (DESIGN section 8); scripts rely on them. */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  AUTH: 5,
  UNREACHABLE: 6,
} as const;

/**
 * A mistake of the user (bad flag value, missing registration): printed as one line, exit 2
 * (or the given code). Anything that is not a UserError, ApiError, ConnectionError or
 * ConfigError is a bug.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.USAGE,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Exit code for an API error status. */
export function exitCodeForStatus(status: number): number {
  if (status === 400 || status === 413 || status === 415) return EXIT.USAGE;
  if (status === 401 || status === 403) return EXIT.AUTH;
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 409) return EXIT.CONFLICT;
  return EXIT.ERROR;
}

export interface Classified {
  exitCode: number;
  message: string;
  /** True when this is a bug of ours (the message says so). */
  bug: boolean;
}

function apiMessage(err: ApiError): string {
  const d = err.details;
  let text = `${err.message} (${err.code})`;
  // The coordinator's message names the task and its claimant; older ones said only "already claimed".
  if (err.code === "TASK_CLAIMED" && d.claimed_by && !err.message.includes(String(d.claimed_by))) text += `: claimed by ${String(d.claimed_by)}`;
  if (err.code === "TASK_CLAIMED" && d.claimed_at) text += ` since ${String(d.claimed_at)}`;
  if (err.code === "INVALID_REQUEST" && Array.isArray(d.fields)) {
    const fields = (d.fields as { field?: string; message?: string }[]).map((f) => `${f.field}: ${f.message}`);
    if (fields.length && !fields.every((f) => err.message.includes(f))) text += `; ${fields.join("; ")}`;
  }
  if (err.status === 401) text += "; pass --token, set MULTICLAUDE_COORD_TOKEN, or set coordination.token in the config";
  return text;
}

/** Maps any error to its exit code and one line for stderr. */
export function classifyError(err: unknown): Classified {
  if (err instanceof CommanderError) return { exitCode: err.exitCode === 0 ? EXIT.OK : EXIT.USAGE, message: err.message, bug: false };
  if (err instanceof UserError) return { exitCode: err.exitCode, message: err.message, bug: false };
  if (err instanceof ConfigError) return { exitCode: EXIT.USAGE, message: err.message, bug: false };
  if (err instanceof ConnectionError) return { exitCode: EXIT.UNREACHABLE, message: err.message, bug: false };
  if (err instanceof ApiError) return { exitCode: exitCodeForStatus(err.status), message: apiMessage(err), bug: false };
  if (err instanceof CoordError) return { exitCode: exitCodeForStatus(err.status), message: err.message, bug: false };
  const e = err as NodeJS.ErrnoException;
  if (e && (e.code === "EADDRINUSE" || e.code === "EACCES") && e.syscall === "listen") {
    return { exitCode: EXIT.ERROR, message: `cannot listen: ${e.message}`, bug: false };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.ERROR, message: `internal error: ${message} (this is a bug; set MULTICLAUDE_COORD_DEBUG=1 for the stack)`, bug: true };
}
