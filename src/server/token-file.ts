import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The zero-config admin token: read from `path` if it exists, else created once (mode 0600,
 * folder 0700). Returns the token and whether it was created now.
 */
export function ensureTokenFile(path: string): { token: string; created: boolean } {
  try {
    const token = readFileSync(path, "utf8").trim();
    if (token) return { token, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const token = `mcc_${randomBytes(24).toString("base64url")}`;
  // `wx`: if two coordinators start at once, the second fails here instead of overwriting.
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return { token, created: true };
}
