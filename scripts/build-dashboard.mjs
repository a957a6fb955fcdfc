#!/usr/bin/env node
// Bundles the dashboard (src/dashboard, Preact) into dist/dashboard: index.html plus
// content-hashed assets, so index.html can be "no-cache" and the assets cached for good.
// Run by `npm run build`; the bundle ships in the npm package (no CDN, no network at run time).
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "dashboard");
/** DESIGN §13 / issue 17: the page must stay small. */
const MAX_JS_GZIP_BYTES = 150 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const result = await build({
  entryPoints: { app: join(root, "src", "dashboard", "main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  outdir: join(out, "assets"),
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const files = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = files.find((f) => f.endsWith(".js"));
const css = files.find((f) => f.endsWith(".css"));
const html = readFileSync(join(root, "src", "dashboard", "index.html"), "utf8")
  .replace("%CSS%", css ? `<link rel="stylesheet" href="/assets/${css}">` : "")
  .replace("%JS%", `<script type="module" src="/assets/${js}"></script>`);
writeFileSync(join(out, "index.html"), html);

const gzipped = gzipSync(readFileSync(join(out, "assets", js))).length;
console.log(`dashboard: ${js} ${(gzipped / 1024).toFixed(1)} KiB gzipped${css ? `, ${css}` : ""}`);
if (gzipped > MAX_JS_GZIP_BYTES) {
  console.error(`dashboard bundle is ${gzipped} bytes gzipped, over the ${MAX_JS_GZIP_BYTES} byte budget`);
  process.exit(1);
}
