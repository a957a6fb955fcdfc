import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { CoordError } from "../core/errors.js";

/**
 * Headers of every dashboard answer: nothing but this origin's own scripts and styles may run or
 * load, no framing, no sniffing, no referrer. Scripts set styles through the CSSOM only, which
 * `style-src 'self'` allows.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** A folder the build made (src/dashboard has an index.html too, a template without assets). */
const isBuilt = (dir: string) => existsSync(join(dir, "index.html")) && existsSync(join(dir, "assets"));

/**
 * Where `npm run build` puts the bundle: dist/dashboard beside dist/server in the package, or
 * ../../dist/dashboard when the server runs from src/ (tests).
 */
export function defaultDashboardDir(): string | undefined {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return [join(here, "..", "dashboard"), join(here, "..", "..", "dist", "dashboard")].find(isBuilt);
}

interface Asset {
  body: Buffer;
  type: string;
}

/** The bundle's files, read once: a few small files, answered from memory. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(join(dir, "assets"))) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(join(dir, "assets", name)), type });
  }
  return assets;
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", DASHBOARD_CSP)
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin")
    .header("cross-origin-resource-policy", "same-origin");
}

/**
 * Serves the dashboard (DESIGN §13) at `/`: index.html (never cached, so a new version is seen
 * at once) and /assets/* (content-hashed names, cached for a year). Not part of the API: no
 * auth here, the page signs in through /api/v1/session. Without a build, `/` says how to make one.
 */
export function dashboardRoutes(app: FastifyInstance, dir: string | undefined): void {
  const built = dir !== undefined && isBuilt(dir);
  const index = built ? readFileSync(join(dir, "index.html")) : undefined;
  const assets = built ? loadAssets(dir) : new Map<string, Asset>();
  const hide = { schema: { hide: true } };

  app.get("/", hide, async (_request, reply) => {
    secure(reply).header("cache-control", "no-cache");
    if (!index) {
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send(Buffer.from("The dashboard is not built. Run `npm run build` (it bundles src/dashboard into dist/dashboard).\n"));
    }
    return reply.type(TYPES[".html"]!).send(index);
  });

  app.get<{ Params: { file: string } }>("/assets/:file", hide, async (request, reply) => {
    const asset = assets.get(request.params.file);
    secure(reply);
    if (!asset) throw new CoordError("NOT_FOUND", `no dashboard asset ${request.params.file}`);
    return reply.header("cache-control", "public, max-age=31536000, immutable").type(asset.type).send(asset.body);
  });
}
