import { Chalk, type ChalkInstance } from "chalk";
import ora from "ora";
import { escapeTerminal, escapeTerminalDeep, escapeTerminalKeepingStyle } from "./sanitize.js";
import { renderTable, type ColumnSpec } from "./table.js";

/** Where output goes; a TTY check decides about colour and spinners. */
export interface OutputStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  /** Terminal width, when a terminal. */
  columns?: number;
}

/** `-o`: how lists print. `json` is `--json`; `name` prints only the ids (first column). */
export const OUTPUT_FORMATS = ["table", "wide", "name", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputOptions {
  stdout: OutputStream;
  stderr: OutputStream;
  /** `--json`: stdout carries only JSON. */
  json: boolean;
  /** false for `--no-color`. */
  color: boolean;
  env: NodeJS.ProcessEnv;
  /** `-o table|wide|name` for lists (default table). */
  format?: OutputFormat;
}

/**
 * The width tables fit: the terminal's, else `$COLUMNS`, else none (a pipe gets whole lines,
 * as scripts want them).
 */
export function tableWidth(options: Pick<OutputOptions, "stdout" | "env">): number | undefined {
  if (options.stdout.isTTY && options.stdout.columns) return options.stdout.columns;
  const env = Number(options.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : undefined;
}

export interface Spinner {
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

const NO_SPINNER: Spinner = { succeed() {}, fail() {}, stop() {} };

/** Colour only for a human at a terminal: not with NO_COLOR, --no-color, --json, or a pipe. */
export function colorEnabled(options: Pick<OutputOptions, "stdout" | "json" | "color" | "env">): boolean {
  if (!options.color || options.json) return false;
  if (options.env.NO_COLOR !== undefined && options.env.NO_COLOR !== "") return false;
  if (options.env.FORCE_COLOR !== undefined && options.env.FORCE_COLOR !== "0") return true;
  return options.stdout.isTTY === true && options.env.TERM !== "dumb";
}

/**
 * The one output module of the CLI: everything a command prints goes through here, so
 * `--json`, colour and spinner rules hold for every command. Human text is terminal-safe:
 * control and bidi characters in it are shown escaped (sanitize.ts); JSON is written as is.
 */
export class Output {
  readonly c: ChalkInstance;
  readonly json: boolean;

  constructor(private readonly options: OutputOptions) {
    this.json = options.json;
    this.c = new Chalk({ level: colorEnabled(options) ? 1 : 0 });
  }

  /** Human text as the terminal may show it: controls escaped, our own colours kept. */
  private safe(text: string): string {
    return this.c.level > 0 ? escapeTerminalKeepingStyle(text) : escapeTerminal(text);
  }

  /** A human line on stdout (suppressed with --json so stdout stays one JSON document). */
  line(text = ""): void {
    if (!this.json) this.options.stdout.write(`${this.safe(text)}\n`);
  }

  /** A bare value for scripts (`--quiet` ids): printed even with --json. */
  plain(text: string): void {
    this.options.stdout.write(`${text}\n`);
  }

  /** Machine data on stdout: one document, or (for event streams) one object per line. */
  data(value: unknown, pretty = true): void {
    this.options.stdout.write(`${pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);
  }

  /**
   * Prints `value` as JSON with --json, else runs the human renderer on a copy whose strings
   * are escaped, so nothing from the coordinator can drive the terminal, however it is printed.
   */
  result<T>(value: T, human: (value: T) => void): void {
    if (this.json) this.data(value);
    else human(escapeTerminalDeep(value));
  }

  /** Before a `--watch` redraw: a terminal gets a clean screen; a pipe or `--json` gets nothing. */
  clearScreen(): void {
    if (!this.json && this.options.stdout.isTTY) this.options.stdout.write("\x1b[H\x1b[2J");
  }

  /** Notes and progress for humans: stderr, so they never mix with data. */
  info(text: string): void {
    this.options.stderr.write(`${this.safe(text)}\n`);
  }

  warn(text: string): void {
    this.options.stderr.write(`${this.c.yellow("warning:")} ${this.safe(text)}\n`);
  }

  error(text: string): void {
    this.options.stderr.write(`${this.c.red("error:")} ${this.safe(text)}\n`);
  }

  success(text: string): void {
    this.line(`${this.c.green("✓")} ${text}`);
  }

  /** A done action whose outcome is bad (a task reported failed): a red cross, on stdout like success. */
  failure(text: string): void {
    this.line(`${this.c.red("✗")} ${text}`);
  }

  /**
   * A borderless table (see table.ts); empty tables print `emptyText` instead. With `-o name`
   * only the first column (the ids), one a line.
   */
  table(columns: ColumnSpec[], rows: (string | number)[][], emptyText = "(none)"): void {
    if (this.options.format === "name") {
      for (const r of rows) this.line(String(r[0]));
      return;
    }
    if (rows.length === 0) {
      this.info(this.c.dim(emptyText));
      return;
    }
    const lines = renderTable(
      columns,
      rows.map((r) => r.map(String)),
      { width: tableWidth(this.options), wide: this.options.format === "wide" },
      (s) => this.c.bold(s),
    );
    this.line(lines.join("\n"));
  }

  /** `key  value` pairs, aligned. */
  fields(pairs: [string, unknown][]): void {
    const width = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) {
      if (v === undefined) continue;
      this.line(`${this.c.bold(k.padEnd(width))}  ${v === null || v === "" ? this.c.dim("-") : String(v)}`);
    }
  }

  /** An ora spinner on stderr, only for a human at a terminal. */
  spinner(text: string): Spinner {
    if (this.json || this.options.stderr.isTTY !== true || this.c.level === 0) return NO_SPINNER;
    const s = ora({ text: escapeTerminal(text), stream: this.options.stderr as NodeJS.WritableStream }).start();
    return {
      succeed: (t) => s.succeed(t === undefined ? t : escapeTerminal(t)),
      fail: (t) => s.fail(t === undefined ? t : escapeTerminal(t)),
      stop: () => s.stop(),
    };
  }
}
