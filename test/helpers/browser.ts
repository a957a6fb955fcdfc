/**
 * A real headless Chromium for the dashboard tests (DESIGN §13): Debian's `chromium` driven by
 * playwright-core. Each page records what a user would not want: console errors, uncaught
 * errors, and requests to any host but the coordinator's.
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT } from "../cli/harness.js";

/** Where screenshots go (gitignored); CI keeps them as artefacts. */
export const ARTEFACTS = join(ROOT, "test-artefacts", "dashboard");

/** The system Chromium: $CHROMIUM_PATH, /usr/bin/chromium, or chromium on PATH. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", ...(process.env.PATH ?? "").split(delimiter).map((d) => join(d, "chromium"))];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("chromium is not installed (apt-get install chromium); the dashboard tests need it when CI is set");
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  /** URLs of requests to hosts other than the coordinator's (`origins`). */
  foreign: string[];
  /** Top-level navigations (a reload would add one). */
  navigations: number;
  close(): Promise<void>;
}

export async function openPage(
  browser: Browser,
  origins: string | string[],
  opts: { width?: number; height?: number; colorScheme?: "light" | "dark"; ignoreHTTPSErrors?: boolean } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 860 },
    colorScheme: opts.colorScheme ?? "light",
    ignoreHTTPSErrors: opts.ignoreHTTPSErrors ?? false,
  });
  const page = await context.newPage();
  const watched: WatchedPage = {
    page,
    context,
    errors: [],
    foreign: [],
    navigations: 0,
    close: () => context.close(),
  };
  const hosts = new Set(([] as string[]).concat(origins).map((o) => new URL(o).host));
  page.on("console", (m) => {
    if (m.type() === "error") watched.errors.push(m.text());
  });
  page.on("pageerror", (e) => watched.errors.push(e.message));
  // The console says only "Failed to load resource"; name what failed.
  page.on("response", (r) => {
    if (r.status() >= 400) watched.errors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.protocol !== "data:" && !hosts.has(url.host)) watched.foreign.push(r.url());
  });
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) watched.navigations++;
  });
  return watched;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTEFACTS, { recursive: true });
  const path = join(ARTEFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
