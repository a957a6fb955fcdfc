import { createHash } from "node:crypto";
import { SectionReader } from "./reader.js";
import { ROLES, type TokenEntry } from "./types.js";

/** A log-safe name for a token: never the token itself, a short hash of it. */
export function tokenName(token: string): string {
  return `token-${createHash("sha256").update(token).digest("hex").slice(0, 8)}`;
}

/** A node-id glob: the node-id characters plus `*` (any run) and `?` (one character). */
const NODE_GLOB = /^[A-Za-z0-9._*?-]{1,128}$/;

/** `nodes: [glob, ...]` of a node token: which node ids it may register (DESIGN §10). */
function readNodeGlobs(entry: SectionReader, role: string): string[] | undefined {
  const raw = entry.raw.nodes;
  if (raw === undefined || raw === null) return undefined;
  if (role !== "node") {
    entry.problem("nodes", `only node tokens are bound to nodes (this token's role is ${role})`);
    return undefined;
  }
  const list = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((g) => typeof g === "string" && NODE_GLOB.test(g))) {
    entry.problem("nodes", 'expected a non-empty list of node-id globs such as "ci-runner-*" (letters, digits, . _ - and * ?)');
    return undefined;
  }
  return list as string[];
}

/**
 * `server.auth.tokens`: plain strings (admin tokens) or `{token, role, name, nodes}`. An entry
 * whose token is empty, as `${COORD_READ_TOKEN:-}` gives when the variable is unset, is left
 * out with a warning: an optional token that is not configured on this machine.
 */
export function readTokens(auth: SectionReader, warnings: string[]): TokenEntry[] {
  const raw = auth.raw.tokens;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    auth.problem("tokens", "expected a list of tokens");
    return [];
  }
  const tokens: TokenEntry[] = [];
  raw.forEach((item: unknown, i) => {
    const key = `tokens[${i}]`;
    if (typeof item === "string") {
      if (item !== "") tokens.push({ token: item, role: "admin", name: tokenName(item) });
      else warnings.push(`${auth.key(key)}: the token is empty (an unset \${VAR:-}?); this entry is skipped`);
      return;
    }
    if (!item || typeof item !== "object" || Array.isArray(item)) {
      auth.problem(key, "expected a token string or {token, role, name, nodes}");
      return;
    }
    const entry = new SectionReader(item as Record<string, unknown>, auth.key(key), auth.problems);
    entry.rejectUnknown(["token", "role", "name", "nodes"]);
    const role = entry.oneOf("role", ROLES, "admin");
    const nodes = readNodeGlobs(entry, role);
    if (!entry.has("token")) {
      entry.problem("token", "is required");
      return;
    }
    const token = entry.string("token");
    if (token === undefined) return;
    const name = entry.string("name") || tokenName(token);
    if (token === "") {
      warnings.push(`${auth.key(key)}.token: empty (an unset \${VAR:-}?); the ${role} token "${name}" is skipped`);
      return;
    }
    tokens.push({ token, role, name, ...(nodes ? { nodes } : {}) });
  });
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t.token)) auth.problem("tokens", `the token named ${t.name} is listed twice`);
    seen.add(t.token);
  }
  return tokens;
}
