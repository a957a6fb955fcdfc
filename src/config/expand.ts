/**
 * `${VAR}` and `${VAR:-default}` expansion over a parsed YAML document. Expansion runs on the
 * parsed values (never on the YAML text), so a variable's value can't break the YAML syntax.
 * `$${` stays a literal `${`.
 */
const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Expands one string; pushes `key: ...` to `problems` for each unset variable without default. */
export function expandString(value: string, key: string, env: NodeJS.ProcessEnv, problems: string[]): string {
  return value.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    const set = env[name!];
    // `${VAR:-x}` uses x when VAR is unset or empty, as in the shell.
    if (set !== undefined && set !== "") return set;
    if (fallback !== undefined) return fallback;
    if (set === "") return "";
    problems.push(`${key}: environment variable ${name} is not set (use \${${name}:-default} for a default)`);
    return "";
  });
}

/** Returns a copy of `value` with every string expanded; keys are reported as dotted paths. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, problems: string[], key = ""): unknown {
  if (typeof value === "string") return expandString(value, key || "(root)", env, problems);
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, problems, `${key}[${i}]`));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, problems, key ? `${key}.${k}` : k);
    return out;
  }
  return value;
}
