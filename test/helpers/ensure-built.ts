/**
 * The one build step of the end-to-end and browser suites, which spawn bin/multiclaude-coord.js and so run
 * dist/. Builds when dist/ is missing or older than src/ (CI builds before testing, so there it is
 * a no-op). Test files run in parallel: one build at a time, behind a lock directory. A failed
 * `tsc` fails the suite with its output, and leaves a marker so the next run builds again: an
 * old dist/ is never what gets tested.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const DIST = join(ROOT, "dist");
const FAILED = join(DIST, ".build-failed");
const LOCK = join(DIST, ".build-lock");

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function fresh(): boolean {
  const src = newest(join(ROOT, "src"));
  return !existsSync(FAILED) && [join(DIST, "cli", "main.js"), join(DIST, "dashboard", "index.html")].every((f) => existsSync(f) && statSync(f).mtimeMs >= src);
}

export function ensureBuilt(): void {
  if (fresh()) return;
  mkdirSync(DIST, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A holder that died leaves its lock: a build never takes this long.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 180_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`build lock ${LOCK} is stuck`);
      execFileSync("sleep", ["0.2"]);
    }
  }
  try {
    if (fresh()) return;
    try {
      execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "pipe" });
      // The dashboard bundle (served at /), as `npm run build` makes it.
      execFileSync(process.execPath, [join(ROOT, "scripts", "build-dashboard.mjs")], { cwd: ROOT, stdio: "pipe" });
      rmSync(FAILED, { force: true });
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
      const output = `${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`.trim() || e.message;
      writeFileSync(FAILED, output);
      throw new Error(`npm run build failed; the e2e tests need a build of the current src/:\n${output}`);
    }
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
