import { parseDuration } from "../core/duration.js";

/**
 * Typed access to one section of a raw config document that collects problems instead of
 * throwing, so a bad file is reported with every problem at once, one line each.
 */
export class SectionReader {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly prefix: string,
    readonly problems: string[],
  ) {}

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  problem(name: string, message: string): void {
    this.problems.push(`${this.key(name)}: ${message}`);
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  /** A nested section; a missing one reads as empty. */
  section(name: string): SectionReader {
    const v = this.raw[name];
    if (v === undefined || v === null) return new SectionReader({}, this.key(name), this.problems);
    if (typeof v !== "object" || Array.isArray(v)) {
      this.problem(name, "expected a mapping");
      return new SectionReader({}, this.key(name), this.problems);
    }
    return new SectionReader(v as Record<string, unknown>, this.key(name), this.problems);
  }

  string(name: string): string | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (typeof v !== "string") {
      this.problem(name, "expected a string");
      return undefined;
    }
    return v;
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.raw[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v === "boolean") return v;
    // Values from ${VAR} expansion arrive as strings.
    if (typeof v === "string" && /^(true|yes|on|1)$/i.test(v)) return true;
    if (typeof v === "string" && /^(false|no|off|0)$/i.test(v)) return false;
    this.problem(name, `expected true or false, got ${JSON.stringify(v)}`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw[name];
    if (v === undefined || v === null) return fallback;
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      this.problem(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  }

  number(name: string, fallback: number, min: number): number {
    const v = this.raw[name];
    if (v === undefined || v === null) return fallback;
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n) || n < min) {
      this.problem(name, `expected a number ≥ ${min}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  }

  /** A size: a whole number of bytes, or `512KiB`, `64MiB`, `1GiB` (also KB/MB/GB, powers of 1024). */
  bytes(name: string, fallback: number, min: number): number {
    const v = this.raw[name];
    if (v === undefined || v === null) return fallback;
    const m = /^\s*(\d+)\s*([KMG]i?B)?\s*$/i.exec(String(v));
    const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m?.[2] ?? "").charAt(0).toUpperCase()] ?? 1;
    const n = m && typeof v !== "boolean" ? Number(m[1]) * unit : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      this.problem(name, `expected a size of at least ${min} bytes such as 64MiB or 1048576, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  }

  /**
   * `30s`, `5m`, `1h30m`, `30d` or a bare number of seconds, in milliseconds. Zero only with
   * `allowZero` (retention: keep forever); `maxMs` bounds it.
   */
  duration(name: string, fallbackMs: number, opts: { allowZero?: boolean; maxMs?: number } = {}): number {
    const v = this.raw[name];
    if (v === undefined || v === null) return fallbackMs;
    if (typeof v !== "string" && typeof v !== "number") {
      this.problem(name, "expected a duration such as 30s or 5m");
      return fallbackMs;
    }
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch {
      this.problem(name, `invalid duration ${JSON.stringify(v)} (use e.g. 30s, 5m, 1h, 7d)`);
      return fallbackMs;
    }
    if (ms === 0 && !opts.allowZero) {
      this.problem(name, `must be more than zero, got ${JSON.stringify(v)}`);
      return fallbackMs;
    }
    if (opts.maxMs !== undefined && ms > opts.maxMs) {
      const most = opts.maxMs >= 86_400_000 ? `${Math.round(opts.maxMs / 86_400_000)}d` : `${Math.round(opts.maxMs / 60_000)}m`;
      this.problem(name, `must be at most ${most}, got ${JSON.stringify(v)}`);
      return fallbackMs;
    }
    return ms;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problem(name, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v as T;
  }

  /** Warns about keys nobody reads, which are nearly always typos. */
  rejectUnknown(known: readonly string[]): void {
    for (const k of Object.keys(this.raw)) {
      if (!known.includes(k)) this.problems.push(`${this.key(k)}: unknown key (expected one of ${known.join(", ")})`);
    }
  }
}
