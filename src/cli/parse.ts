import { InvalidArgumentError } from "commander";
import type { Labels } from "../core/types.js";

/** Commander collector for repeatable flags (`--label a=b --label c=d`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `["pool=gpu", "region=us"]` → labels; `key=value` on the command line (DESIGN section 8). */
export function parseLabels(values: string[] | undefined, flag = "--label"): Labels {
  const labels: Labels = {};
  for (const v of values ?? []) {
    const i = v.indexOf("=");
    if (i <= 0 || i === v.length - 1) throw new InvalidArgumentError(`${flag} expects key=value, got "${v}"`);
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

/** Commander parser for a number of seconds > 0 (fractions allowed). */
export function secondsArg(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || n <= 0) throw new InvalidArgumentError(`expected a number of seconds > 0, got "${value}"`);
  return n;
}

/** Commander parser for a value from a fixed list. */
export function choiceArg<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}, got "${value}"`);
    return value as T;
  };
}
