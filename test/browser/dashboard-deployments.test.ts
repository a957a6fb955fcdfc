/**
 * The dashboard where it is deployed (issue 17, "Done when"): behind TLS (the cookie is Secure),
 * and on a Redis-backed replica pair: signed in on replica A, the page streams from replica B, a
 * task created through A shows on B live, and a sign-out on B ends the session on A.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../../src/store/redis.js";
import { findChromium, launchChromium, openPage, screenshot, type WatchedPage } from "../helpers/browser.js";
import { makeTestCerts } from "../helpers/certs.js";
import { ensureBuilt } from "../helpers/ensure-built.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { createTask, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { signInThroughForm, waitLive } from "./dashboard-steps.js";

const noChromium = !findChromium() && !process.env.CI;
let browser: Browser;
const pages: WatchedPage[] = [];
const servers: TestServer[] = [];

beforeAll(async () => {
  if (noChromium) return;
  ensureBuilt();
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const w of pages.splice(0)) {
    expect(w.foreign, "requests to other hosts").toEqual([]);
    expect(w.errors, "console errors").toEqual([]);
    await w.close();
  }
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function open(origin: string | string[], opts: Parameters<typeof openPage>[2] = {}): Promise<WatchedPage> {
  const w = await openPage(browser, origin, opts);
  pages.push(w);
  return w;
}

describe.skipIf(noChromium)("dashboard behind TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcc-dash-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("signs in with a Secure cookie and stays live over https", async () => {
    const certs = makeTestCerts(dir);
    const server = await startTestServer({ app: { fastify: { https: { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) } } } });
    servers.push(server);
    const url = server.url.replace("http://", "https://");
    const w = await open(url, { ignoreHTTPSErrors: true });
    await signInThroughForm(w, url, TOKENS.admin);
    expect(await w.context.cookies()).toEqual([
      // The __Host- prefix: the browser keeps it only as Secure, Path=/, host-only.
      expect.objectContaining({ name: "__Host-mcc_session", httpOnly: true, secure: true, sameSite: "Strict", path: "/" }),
    ]);
    await w.page.goto(`${url}/#/tasks`);
    await waitLive(w);
    // Created through the API (over TLS, trusting the test CA), seen on the page without a reload.
    const dispatcher = new Agent({ connect: { ca: readFileSync(certs.ca) } });
    const res = await undiciFetch(`${url}/api/v1/tasks`, {
      method: "POST",
      dispatcher,
      headers: { authorization: `Bearer ${TOKENS.node}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: "secure-repo", description: "over TLS" }),
    });
    const task = ((await res.json()) as { data: { id: string } }).data;
    await w.page.locator(`tr[data-task="${task.id}"]`).waitFor({ timeout: 2000 });
    await screenshot(w.page, "tls-tasks-1280");
    await dispatcher.close();
  }, 60_000);
});

describe.skipIf(noChromium || (!findRedisServer() && !process.env.CI))("dashboard on a Redis-backed replica pair", () => {
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("signs in on replica A and streams from replica B; a sign-out on B ends the session on A", async () => {
    const app = { sessions: { streamCheckMs: 250 } };
    const a = await startTestServer({ store: await createRedisStore(redis!.url), app });
    const b = await startTestServer({ store: await createRedisStore(redis!.url), app });
    servers.push(a, b);
    const w = await open([a.url, b.url]);
    await signInThroughForm(w, a.url, TOKENS.admin);
    await waitLive(w);
    // Cookies are per host, not per port: the same browser now talks to replica B with A's session.
    const streams: string[] = [];
    w.page.on("request", (r) => {
      if (r.url().includes("/events/stream")) streams.push(new URL(r.url()).port);
    });
    await w.page.goto(`${b.url}/#/tasks`);
    expect(await w.page.locator('[data-testid="role"]').textContent()).toBe("admin");
    await waitLive(w);
    expect(streams).toEqual([new URL(b.url).port]);
    const task = await createTask(a, { repo: "replicated", description: "made on A, seen on B" });
    await w.page.locator(`tr[data-task="${task.id}"]`).waitFor({ timeout: 2000 });
    // The page's admin action goes to B and is visible on A.
    await w.page.locator(`tr[data-task="${task.id}"] button[data-action="cancel"]`).click();
    await expect.poll(async () => (await a.api("GET", `/tasks/${task.id}`)).body.data.status).toBe("cancelled");
    const [cookie] = await w.context.cookies();
    await w.page.click('button[data-action="sign-out"]');
    await w.page.locator('input[name="token"]').waitFor();
    expect((await a.api("GET", "/status", { token: null, headers: { cookie: `${cookie!.name}=${cookie!.value}` } })).status).toBe(401);
  }, 60_000);
});
