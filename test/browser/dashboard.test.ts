/**
 * The dashboard in a real headless Chromium (DESIGN §13, issue 17): sign-in with read and admin
 * tokens, counts that match the API, a task created through the API appearing live, cancel from
 * the page, sign-out, no foreign requests, no console errors, two widths, both colour schemes.
 * Screenshots go to test-artefacts/dashboard/ (UPDATE_SCREENSHOTS=1 also refreshes docs/images/).
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../cli/harness.js";
import { findChromium, launchChromium, openPage, screenshot, type WatchedPage } from "../helpers/browser.js";
import { ensureBuilt } from "../helpers/ensure-built.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { HOSTILE, seed } from "./dashboard-seed.js";
import { signInThroughForm, waitLive } from "./dashboard-steps.js";

const skip = !findChromium() && !process.env.CI;
if (skip) console.warn("dashboard browser tests skipped: no chromium found (apt-get install chromium, or set CHROMIUM_PATH); in CI they fail instead");

let browser: Browser;
let server: TestServer;
let ids: Awaited<ReturnType<typeof seed>>;
const pages: WatchedPage[] = [];

async function open(opts: Parameters<typeof openPage>[2] = {}): Promise<WatchedPage> {
  const w = await openPage(browser, server.url, opts);
  pages.push(w);
  return w;
}

/** Evaluated in the page (the tests are type-checked without the DOM's types). */
const BACKGROUND = "getComputedStyle(document.body).backgroundColor";

const live = waitLive;

describe.skipIf(skip)("dashboard in Chromium", () => {
  beforeAll(async () => {
    ensureBuilt();
    browser = await launchChromium();
    server = await startTestServer();
    ids = await seed(server);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(async () => {
    for (const w of pages.splice(0)) {
      // Every page of every test: nothing fetched from elsewhere, nothing logged as an error.
      expect(w.foreign, "requests to other hosts").toEqual([]);
      expect(w.errors, "console errors").toEqual([]);
      await w.close();
    }
  });

  it("signs in with a read token: counts match the API, no mutating buttons, text stays text", async () => {
    const w = await open();
    await signInThroughForm(w, server.url, TOKENS.read);
    expect(await w.page.locator('[data-testid="role"]').textContent()).toBe("read");
    await live(w);
    const status = (await server.api("GET", "/status", { token: TOKENS.read })).body.data;
    for (const [k, v] of Object.entries<number>(status.tasks)) {
      if (k === "total") continue;
      await expect.poll(() => w.page.locator(`[data-status="${k}"] b`).textContent()).toBe(String(v));
    }
    expect(await w.page.locator('[data-testid="tasks-total"]').textContent()).toBe(String(status.tasks.total));
    expect(await w.page.locator('[data-testid="nodes-online"]').textContent()).toContain(String(status.nodes.online));
    expect(await w.page.locator('[data-testid="workers"]').textContent()).toContain(`${status.workers.busy}`);

    for (const view of ["tasks", "nodes"]) {
      await w.page.goto(`${server.url}/#/${view}`);
      await w.page.locator("tbody tr").first().waitFor();
      expect(await w.page.locator("button[data-action]:not([data-action=sign-out])").count(), view).toBe(0);
    }
    // The attacker-controlled description is shown as text, never parsed as markup.
    await w.page.goto(`${server.url}/#/tasks/${ids.pending}`);
    await expect.poll(() => w.page.locator('[data-testid="description"]').textContent()).toBe(HOSTILE);
    expect(await w.page.locator("main img").count()).toBe(0);
    expect(await w.page.title()).toBe("multiclaude-coord");
    // The token is nowhere in the page's storage or its URL.
    const stored = String(await w.page.evaluate("JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href"));
    expect(stored).not.toContain(TOKENS.read);
    const cookies = await w.context.cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: "mcc_session", httpOnly: true, sameSite: "Strict", secure: false, path: "/" })]);
  });

  it("shows a task created through the API within 2 s without a reload, and cancels it from an admin page", async () => {
    const w = await open();
    await signInThroughForm(w, server.url, TOKENS.admin);
    await w.page.goto(`${server.url}/#/tasks`);
    await live(w);
    const navigations = w.navigations;
    const requests: string[] = [];
    w.page.on("request", (r) => requests.push(r.url()));
    const started = Date.now();
    const task = await createTask(server, { repo: "web-app", description: "Appears live" });
    const row = w.page.locator(`tr[data-task="${task.id}"]`);
    await row.waitFor({ timeout: 2000 });
    const seenAfterMs = Date.now() - started;
    expect(seenAfterMs).toBeLessThan(2000);
    expect(w.navigations).toBe(navigations);
    // Read because an event said so, not polled: only API reads, no page or asset loads.
    expect(requests.filter((u) => !u.includes("/api/v1/"))).toEqual([]);

    await row.locator('button[data-action="cancel"]').click();
    await expect.poll(async () => (await server.api("GET", `/tasks/${task.id}`)).body.data.status).toBe("cancelled");
    await expect.poll(() => row.locator(".pill").textContent()).toBe("cancelled");
    // Cancelled tasks offer retry instead.
    await row.locator('button[data-action="retry"]').waitFor();
  });

  it("signs out: the page asks for a token again and the old cookie is refused", async () => {
    const w = await open();
    await signInThroughForm(w, server.url, TOKENS.admin);
    await live(w);
    const [cookie] = await w.context.cookies();
    await w.page.click('button[data-action="sign-out"]');
    await w.page.locator('input[name="token"]').waitFor();
    const res = await server.api("GET", "/status", { token: null, headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(res.status).toBe(401);
    expect(await w.context.cookies()).toEqual([]);
    // A reload stays signed out.
    await w.page.reload();
    await w.page.locator('input[name="token"]').waitFor();
  });

  it("shows a deep link with a malformed escape as typed instead of a blank page", async () => {
    const w = await open();
    await signInThroughForm(w, server.url, TOKENS.read);
    await w.page.goto(`${server.url}/#/tasks/%E0`);
    await expect.poll(() => w.page.locator("main").textContent()).toBe("No task %E0.");
    expect(await w.page.locator("nav a").count()).toBeGreaterThan(0);
    // The page asked for that task and was told the id is not one (400): expected, not an error.
    w.errors = w.errors.filter((e) => !/^400 GET .*\/api\/v1\/tasks\/%25E0$|status of 400 \(Bad Request\)/.test(e));
  });

  it("filters tasks by status on the server and pages tasks and nodes past the first page", async () => {
    const big = await startTestServer();
    try {
      const node = { token: TOKENS.node };
      const reg = await registerNode(big, "solo", { maxWorkers: 1 });
      const failed = (await big.api("POST", "/tasks", { ...node, body: { repo: "old", description: "failed long ago" } })).body.data.id as string;
      await big.api("POST", `/tasks/${failed}/claim`, { ...node, body: { registration_id: reg, worker_name: "w" } });
      await big.api("POST", `/tasks/${failed}/fail`, { ...node, body: { registration_id: reg, reason: "boom", retry: false } });
      // Newer than it: more tasks than the page ever loaded at once before.
      for (let i = 0; i < 2; i++) {
        const batch = Array.from({ length: 300 }, (_, j) => ({ repo: "bulk", description: `bulk ${i}-${j}` }));
        expect((await big.api("POST", "/tasks/batch", { ...node, body: { tasks: batch } })).status).toBe(201);
      }
      const w = await openPage(browser, big.url);
      pages.push(w);
      await signInThroughForm(w, big.url, TOKENS.read);
      await w.page.goto(`${big.url}/#/tasks?status=failed`);
      await w.page.locator(`tr[data-task="${failed}"]`).waitFor();
      expect(await w.page.locator("tbody tr").count()).toBe(1);
      // Unfiltered: one page, then "more" reads the next by cursor, until none is left.
      await w.page.goto(`${big.url}/#/tasks`);
      await expect.poll(() => w.page.locator("tbody tr[data-task]").count()).toBe(200);
      for (const rows of [400, 600, 601]) {
        await w.page.click('button[data-action="more"]');
        await expect.poll(() => w.page.locator("tbody tr[data-task]").count()).toBe(rows);
      }
      expect(await w.page.locator('button[data-action="more"]').count()).toBe(0);
      expect(await w.page.locator(`tr[data-task="${failed}"]`).count()).toBe(1);
      // Nodes page the same way (GET /nodes alone answers only the first 100).
      for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => registerNode(big, `n-${i + j}`)));
      await w.page.goto(`${big.url}/#/overview`);
      await w.page.goto(`${big.url}/#/nodes`);
      await expect.poll(() => w.page.locator("tbody tr[data-node]").count()).toBe(200);
      await w.page.click('button[data-action="more"]');
      await expect.poll(() => w.page.locator("tbody tr[data-node]").count()).toBe(201);
      expect(await w.page.locator('button[data-action="more"]').count()).toBe(0);
    } finally {
      // Checked and closed before its server goes (afterEach would see the stream's end as an error).
      for (const w of pages.splice(0)) {
        await w.close();
        expect(w.foreign, "requests to other hosts").toEqual([]);
        expect(w.errors, "console errors").toEqual([]);
      }
      await big.close();
    }
  });

  it("renders every view at 1280 and 390 pixels, in light and dark, with deep links", async () => {
    const views = ["overview", "nodes", "tasks", `tasks/${ids.done}`, "repos", "events", "messages"];
    const wide = await open({ width: 1280, height: 860, colorScheme: "light" });
    await signInThroughForm(wide, server.url, TOKENS.admin);
    await live(wide);
    const paint = await wide.page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null);
    console.log(`dashboard first contentful paint: ${paint === null ? "n/a" : `${Math.round(paint)} ms`}`);
    const update = process.env.UPDATE_SCREENSHOTS === "1";
    for (const view of views) {
      await wide.page.goto(`${server.url}/#/${view}`);
      await wide.page.locator("main .card, main table").first().waitFor();
      await wide.page.waitForLoadState("networkidle");
      const name = view.startsWith("tasks/") ? "task-detail" : view;
      const file = await screenshot(wide.page, `${name}-1280`);
      if (update) {
        mkdirSync(join(ROOT, "docs", "images"), { recursive: true });
        copyFileSync(file, join(ROOT, "docs", "images", `dashboard-${name}.png`));
      }
    }
    await expect.poll(() => wide.page.evaluate(BACKGROUND)).toBe("rgb(247, 247, 248)");

    const narrow = await open({ width: 390, height: 844, colorScheme: "dark" });
    await signInThroughForm(narrow, server.url, TOKENS.read);
    for (const view of views) {
      await narrow.page.goto(`${server.url}/#/${view}`);
      await narrow.page.locator("main .card, main table").first().waitFor();
      // Nothing wider than the screen: wide tables scroll inside their box.
      expect(await narrow.page.evaluate("document.documentElement.scrollWidth"), view).toBeLessThanOrEqual(390);
      await screenshot(narrow.page, `${view.startsWith("tasks/") ? "task-detail" : view}-390-dark`);
    }
    expect(await narrow.page.evaluate(BACKGROUND)).toBe("rgb(17, 19, 23)");
  }, 120_000);
});
