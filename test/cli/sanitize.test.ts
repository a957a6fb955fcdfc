import { describe, expect, it } from "vitest";
import { escapeTerminal, escapeTerminalDeep, escapeTerminalKeepingStyle } from "../../src/cli/output/sanitize.js";

describe("terminal escaping", () => {
  it("shows C0, C1, DEL and bidi controls as escapes, keeps tab, newline and ordinary unicode", () => {
    expect(escapeTerminal("a\u0007b\rc\u001b]0;title\u0007")).toBe("a\\x07b\\x0dc\\x1b]0;title\\x07");
    expect(escapeTerminal("\u009b2J\u007f\u0085")).toBe("\\x9b2J\\x7f\\x85");
    expect(escapeTerminal("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029")).toBe(
      "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c\\u2028\\u2029",
    );
    expect(escapeTerminal("line 1\n\tline 2 — ünïcødé ✓ 日本 👍")).toBe("line 1\n\tline 2 — ünïcødé ✓ 日本 👍");
  });

  it("with colour, keeps style sequences and escapes the rest (cursor moves, conceal, titles)", () => {
    expect(escapeTerminalKeepingStyle("\u001b[1mbold\u001b[22m \u001b[90;49mgrey\u001b[39m")).toBe("\u001b[1mbold\u001b[22m \u001b[90;49mgrey\u001b[39m");
    expect(escapeTerminalKeepingStyle("\u001b[2J\u001b[8mhidden\u001b[1;8m\u001b]8;;http://x\u0007")).toBe(
      "\\x1b[2J\\x1b[8mhidden\\x1b[1;8m\\x1b]8;;http://x\\x07",
    );
  });

  it("escapes every string of a value, keys included, and leaves other values alone", () => {
    expect(escapeTerminalDeep({ a: ["x\u202e", 1, null, { "k\u0085": true }] })).toEqual({ a: ["x\\u202e", 1, null, { "k\\x85": true }] });
  });
});
