/**
 * Terminal safety for human output: text from the coordinator (task descriptions, messages,
 * reasons) may carry control characters that a terminal obeys (C1 CSI `\u009b`, carriage
 * returns that overwrite a line) or bidi overrides that show text in another order than it
 * is. Human output shows them as visible escapes (`\u202e`, `\x9b`); `--json` stays exact.
 * Tab and newline are kept: they only lay text out.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Escapes every control and bidi character of `text` (but tab and newline). */
export function escapeTerminal(text: string): string {
  return text.replace(UNSAFE, visible);
}

/** SGR parameters chalk writes at level 1 (styles and the 16 colours); conceal (8) is not among them. */
const STYLE_PARAMS = new Set([0, 1, 2, 3, 4, 7, 9, 21, 22, 23, 24, 27, 29, 39, 49]);
const isStyleParam = (n: number) => STYLE_PARAMS.has(n) || (n >= 30 && n <= 37) || (n >= 40 && n <= 47) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107);
// eslint-disable-next-line no-control-regex -- as above: the ESC of a colour sequence
const SGR = /\u001b\[([0-9;]{1,16})m/g;

/**
 * Like `escapeTerminal`, but keeps colour and style sequences (what the output module's own
 * chalk writes around values), so a coloured line stays coloured. Anything else that would
 * drive the terminal (cursor moves, titles, hyperlinks, C1) is still shown escaped.
 */
export function escapeTerminalKeepingStyle(text: string): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(SGR)) {
    const params = m[1]!.split(";");
    if (!params.every((p) => p !== "" && isStyleParam(Number(p)))) continue;
    out += escapeTerminal(text.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeTerminal(text.slice(last));
}

/** A copy of `value` with every string in it escaped, for renderers of data from the coordinator. */
export function escapeTerminalDeep<T>(value: T): T {
  if (typeof value === "string") return escapeTerminal(value) as T;
  if (Array.isArray(value)) return value.map(escapeTerminalDeep) as T;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[escapeTerminal(k)] = escapeTerminalDeep(v);
    return out as T;
  }
  return value;
}
