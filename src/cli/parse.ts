import { InvalidArgumentError } from "commander";
import { parseDuration } from "../core/duration.js";
import { WORKER_BOUNDS } from "../core/nodes.js";
import type { Labels } from "../core/types.js";
import { UserError } from "./errors.js";

/** Commander collector for repeatable flags (`--label a=b --label c=d`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A repeatable flag that also takes comma lists (`--type a,b --type c`): the values, trimmed, empty ones dropped. */
export function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}

/** `["pool=gpu", "region=us"]` → labels; `key=value` on the command line (DESIGN section 8). */
export function parseLabels(values: string[] | undefined, flag = "--label"): Labels {
  const labels: Labels = {};
  for (const v of values ?? []) {
    const i = v.indexOf("=");
    // A UserError, not commander's InvalidArgumentError: this runs inside an action, where
    // commander prints nothing (main() prints UserErrors).
    if (i <= 0 || i === v.length - 1 || !v.slice(0, i).trim() || !v.slice(i + 1).trim()) throw new UserError(`${flag} expects key=value, got "${v}"`);
    labels[v.slice(0, i).trim()] = v.slice(i + 1).trim();
  }
  return labels;
}

/** Commander parser for whole numbers ≥ min. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}, got "${value}"`);
    }
    return n;
  };
}

/**
 * Commander parser for a point in time: ISO (`2026-12-01T09:00:00Z`) or relative to now
 * (`+10m`, `+1h30m`, `+2d`); returns the ISO time.
 */
export function timeArg(value: string, now = Date.now()): string {
  const text = value.trim();
  if (text.startsWith("+")) {
    try {
      return new Date(now + parseDuration(text.slice(1))).toISOString();
    } catch {
      throw new InvalidArgumentError(`expected a time such as +10m, +2h or 2026-12-01T09:00:00Z, got "${value}"`);
    }
  }
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected a time such as +10m, +2h or 2026-12-01T09:00:00Z, got "${value}"`);
  return new Date(ms).toISOString();
}

/** Commander parser for a number of seconds > 0 (fractions allowed). */
export function secondsArg(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || n <= 0) throw new InvalidArgumentError(`expected a number of seconds > 0, got "${value}"`);
  return n;
}

/** Commander parser for a number of seconds > 0 and at most `max`. */
export function secondsUpTo(max: number) {
  return (value: string): number => {
    const n = secondsArg(value);
    if (n > max) throw new InvalidArgumentError(`expected a number of seconds > 0 and at most ${max}, got "${value}"`);
    return n;
  };
}

/**
 * Bounds the coordinator puts on request fields (src/server/schemas.ts), so that flags are
 * refused here with a usage error (exit 2) instead of by the server.
 */
export const SERVER_LIMITS = {
  /** `capacity.max_workers` and `current_workers` of register and heartbeat. */
  workers: WORKER_BOUNDS,
  /** `limit` of every list query. */
  pageSize: 1000,
  maxAttempts: { min: 1, max: 100 },
  /** `wait_seconds` of claims and pending-task long polls. */
  waitSeconds: 300,
} as const;

/** Commander parser for a value from a fixed list. */
export function choiceArg<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}, got "${value}"`);
    return value as T;
  };
}

const PART = "[A-Za-z0-9][A-Za-z0-9._-]*";
const FULL_ADDRESS = new RegExp(`^${PART}@${PART}$`);
const ANY_ADDRESS = new RegExp(`^${PART}(@${PART})?$`);

/** Commander parser for `agent@node` (or, unless `full`, also a bare `agent`), as help says. */
export function addressArg(full: boolean) {
  return (value: string): string => {
    if (!(full ? FULL_ADDRESS : ANY_ADDRESS).test(value)) {
      throw new InvalidArgumentError(`expected ${full ? "agent@node" : "agent or agent@node"} (letters, digits, '.', '_', '-'), got "${value}"`);
    }
    return value;
  };
}
