import { stripVTControlCharacters } from "node:util";

/** One column of a table: its header, and how it behaves when the terminal is narrow or `-o wide`. */
export interface Column {
  title: string;
  /** The free-text column: the one cut short (with `…`) so that a row fits the width. */
  flex?: boolean;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  /**
   * Left out when the table cannot fit the width even with the flex column at its narrowest:
   * the lowest number goes first. Always shown with `-o wide` and without a width.
   */
  optional?: number;
}

export type ColumnSpec = string | Column;

export interface TableLayout {
  /** Total width a line may take; undefined: no limit (nothing is cut). */
  width?: number;
  /** `-o wide`: wide-only columns too, and the free-text column never cut. */
  wide: boolean;
}

/** The gap between columns, as `kubectl get` and `gh` print them. */
const GAP = "  ";
/** A free-text column is never cut narrower than this (the row wraps instead). */
const MIN_FLEX = 12;

/** Width on screen of a cell that may carry colour codes. */
export function visibleWidth(text: string): number {
  return stripVTControlCharacters(text).length;
}

function cut(text: string, max: number): string {
  const plain = stripVTControlCharacters(text);
  if (plain.length <= max) return text;
  return max <= 1 ? "…".slice(0, max) : `${plain.slice(0, max - 1)}…`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Lays a table out borderless: a header row, columns two spaces apart, padded to the widest
 * cell, no trailing spaces. When the rows would be wider than `layout.width`, the flex column is
 * cut to fit. The same on a terminal and in a pipe: only colour differs, never the layout.
 */
export function renderTable(columns: ColumnSpec[], rows: string[][], layout: TableLayout, bold: (s: string) => string = (s) => s): string[] {
  const cols = columns.map((c) => (typeof c === "string" ? { title: c } : c));
  let shown = cols.map((c, i) => ({ ...c, i })).filter((c) => layout.wide || !c.wide);
  const natural = (c: { title: string; i: number }) => Math.max(c.title.length, ...rows.map((r) => visibleWidth(oneLine(String(r[c.i] ?? "")))));
  const narrowest = (c: Column & { i: number }) => (c.flex ? Math.min(natural(c), Math.max(MIN_FLEX, c.title.length)) : natural(c));
  const total = (list: (Column & { i: number })[], width: (c: Column & { i: number }) => number) =>
    list.reduce((a, c) => a + width(c), 0) + GAP.length * (list.length - 1);
  if (layout.width !== undefined && !layout.wide) {
    // Too wide even with the free text at its narrowest: optional columns go, lowest first.
    const optional = shown.filter((c) => c.optional !== undefined).sort((a, b) => a.optional! - b.optional!);
    for (const drop of optional) {
      if (total(shown, narrowest) <= layout.width) break;
      shown = shown.filter((c) => c !== drop);
    }
  }
  const cells = rows.map((r) => shown.map((c) => oneLine(String(r[c.i] ?? ""))));
  const widths = shown.map(natural);
  const flex = shown.findIndex((c) => c.flex);
  if (layout.width !== undefined && flex >= 0 && !layout.wide) {
    const over = total(shown, natural) - layout.width;
    if (over > 0) widths[flex] = Math.max(narrowest(shown[flex]!), widths[flex]! - over);
  }
  const line = (values: string[], style: (s: string) => string = (s) => s) =>
    values
      .map((v, j) => {
        const text = j === flex ? cut(v, widths[j]!) : v;
        const pad = j === values.length - 1 ? "" : " ".repeat(Math.max(0, widths[j]! - visibleWidth(text)));
        return style(text) + pad;
      })
      .join(GAP)
      .trimEnd();
  return [line(shown.map((c) => c.title), bold), ...cells.map((r) => line(r))];
}
