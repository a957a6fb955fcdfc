/**
 * Dashboard sessions (DESIGN §13): a token traded for an HttpOnly cookie that authenticates GETs
 * and the event stream with the token's role; mutations also need the CSRF token; sign-out,
 * expiry and removing the token end the session, on every replica.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/ensure-built.js";
import { createRedisStore } from "../../src/store/redis.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { openEventStream } from "../helpers/sse-client.js";
import { createTask, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const root = mkdtempSync(join(tmpdir(), "mcc-session-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function start(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

/** Signs in with `token`; returns the cookie header to send back and the CSRF token. */
async function signIn(server: TestServer, token: string) {
  const res = await server.api("POST", "/session", { token });
  expect(res.status).toBe(201);
  const setCookie = res.headers.get("set-cookie")!;
  return { res, setCookie, cookie: setCookie.split(";")[0]!, csrf: res.body.data.csrf_token as string };
}

const withCookie = (cookie: string, csrf?: string) => ({ token: null, headers: { cookie, ...(csrf ? { "x-csrf-token": csrf } : {}) } });

describe("dashboard sessions", () => {
  it("trades a token for an HttpOnly, SameSite=Strict cookie that reads with the token's role", async () => {
    const server = await start();
    const { res, setCookie, cookie, csrf } = await signIn(server, TOKENS.read);
    expect(setCookie).toMatch(/^mcc_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(res.body.data).toMatchObject({ name: "reader", role: "read", via: "session", csrf_token: expect.any(String) });
    expect(Date.parse(res.body.data.expires_at) - Date.now()).toBeGreaterThan(11.9 * 3_600_000);
    // The answer names neither the token nor the cookie's value.
    expect(JSON.stringify(res.body)).not.toContain(TOKENS.read);
    expect(JSON.stringify(res.body)).not.toContain(cookie.split("=")[1]);

    const tasks = await server.api("GET", "/tasks", withCookie(cookie));
    expect(tasks.status).toBe(200);
    // A reloaded page learns its role and CSRF token again from the cookie.
    const again = await server.api("GET", "/session", withCookie(cookie));
    expect(again.body.data).toMatchObject({ role: "read", via: "session", csrf_token: csrf });
    // Without the cookie, nothing.
    expect((await server.api("GET", "/tasks", { token: null })).status).toBe(401);
    expect((await server.api("GET", "/session", { token: null })).body.data).toMatchObject({ signed_in: false, role: null });
  });

  it("needs the CSRF token for a mutation made with the cookie, and the role for it", async () => {
    const server = await start();
    const task = await createTask(server, {});
    const admin = await signIn(server, TOKENS.admin);
    const missing = await server.api("POST", `/tasks/${task.id}/cancel`, { ...withCookie(admin.cookie), body: {} });
    expect(missing.status).toBe(403);
    expect(missing.body.code).toBe("CSRF_TOKEN_INVALID");
    const wrong = await server.api("POST", `/tasks/${task.id}/cancel`, { ...withCookie(admin.cookie, `${admin.csrf}x`), body: {} });
    expect(wrong.body.code).toBe("CSRF_TOKEN_INVALID");
    // Another session's CSRF token is not this one's.
    const other = await signIn(server, TOKENS.admin);
    expect((await server.api("POST", `/tasks/${task.id}/cancel`, { ...withCookie(admin.cookie, other.csrf), body: {} })).body.code).toBe("CSRF_TOKEN_INVALID");
    expect((await server.api("GET", `/tasks/${task.id}`)).body.data.status).toBe("pending");

    const reader = await signIn(server, TOKENS.read);
    const refused = await server.api("POST", `/tasks/${task.id}/cancel`, { ...withCookie(reader.cookie, reader.csrf), body: {} });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("FORBIDDEN");

    const ok = await server.api("POST", `/tasks/${task.id}/cancel`, { ...withCookie(admin.cookie, admin.csrf), body: { reason: "from the page" } });
    expect(ok.status).toBe(200);
    expect(ok.body.data.status).toBe("cancelled");
  });

  it("leaves bearer-token use as it was: the Authorization header wins over a cookie", async () => {
    const server = await start();
    const task = await createTask(server, {});
    const res = await server.api("POST", `/tasks/${task.id}/cancel`, { headers: { cookie: "mcc_session=not-a-session" }, body: {} });
    expect(res.status).toBe(200);
    // A session cannot make another session: sign-in takes the token itself.
    const s = await signIn(server, TOKENS.admin);
    const again = await server.api("POST", "/session", withCookie(s.cookie, s.csrf));
    expect(again.status).toBe(401);
  });

  it("ends a session after 12 hours", async () => {
    let now = Date.now();
    const server = await start({ app: { sessions: { now: () => now } } });
    const s = await signIn(server, TOKENS.read);
    now += 12 * 3_600_000 - 1000;
    expect((await server.api("GET", "/status", withCookie(s.cookie))).status).toBe(200);
    now += 1000;
    expect((await server.api("GET", "/status", withCookie(s.cookie))).status).toBe(401);
  });

  it("ends the sessions (and their streams) of a token removed from the list, and follows a role change", async () => {
    const server = await start();
    const reader = await signIn(server, TOKENS.read);
    const admin = await signIn(server, TOKENS.admin);
    const stream = await openEventStream(`${server.url}/api/v1/events/stream`, { headers: { cookie: reader.cookie } });
    const adminStream = await openEventStream(`${server.url}/api/v1/events/stream`, { headers: { cookie: admin.cookie } });
    server.app.coordAuth.setTokens({
      required: true,
      tokens: [
        { token: TOKENS.admin, role: "read", name: "admin" },
        { token: TOKENS.node, role: "node", name: "node" },
      ],
    });
    await stream.ended;
    expect((await server.api("GET", "/status", withCookie(reader.cookie))).status).toBe(401);
    // Ended for good: the token coming back does not bring the session back.
    const tokens = [
      { token: TOKENS.admin, role: "read" as const, name: "admin" },
      { token: TOKENS.node, role: "node" as const, name: "node" },
      { token: TOKENS.read, role: "read" as const, name: "reader" },
    ];
    server.app.coordAuth.setTokens({ required: true, tokens });
    expect((await server.api("GET", "/status", withCookie(reader.cookie))).status).toBe(401);
    // The admin token stays, demoted to read: its session reads, and may no longer cancel.
    expect(adminStream.isEnded).toBe(false);
    const task = await createTask(server, {});
    const cancel = await server.api("POST", `/tasks/${task.id}/cancel`, { ...withCookie(admin.cookie, admin.csrf), body: {} });
    expect(cancel.body.code).toBe("FORBIDDEN");
    adminStream.close();
  });

  it("ends a removed token's sessions in the store at the reload, so putting the token back does not revive them", async () => {
    const server = await start();
    const reader = await signIn(server, TOKENS.read);
    const others = [
      { token: TOKENS.admin, role: "admin" as const, name: "admin" },
      { token: TOKENS.node, role: "node" as const, name: "node" },
    ];
    // The session is not used (no request, no stream) between the removal and the put-back.
    server.app.coordAuth.setTokens({ required: true, tokens: others });
    expect((await server.api("GET", "/status")).status).toBe(200);
    server.app.coordAuth.setTokens({ required: true, tokens: [...others, { token: TOKENS.read, role: "read", name: "reader" }] });
    expect((await server.api("GET", "/status", withCookie(reader.cookie))).status).toBe(401);
    // The token itself signs in again.
    const again = await signIn(server, TOKENS.read);
    expect((await server.api("GET", "/status", withCookie(again.cookie))).status).toBe(200);
  });

  it("accepts the cookie only from the dashboard's own origin when the browser says where a request comes from", async () => {
    const server = await start();
    const { cookie } = await signIn(server, TOKENS.read);
    const from = (site: string) => ({ token: null, headers: { cookie, "sec-fetch-site": site } });
    expect((await server.api("GET", "/tasks", from("same-origin"))).status).toBe(200);
    // No Fetch Metadata (an old browser, curl): let through.
    expect((await server.api("GET", "/tasks", withCookie(cookie))).status).toBe(200);
    for (const site of ["same-site", "cross-site", "none"]) {
      const res = await server.api("GET", "/tasks", from(site));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: "UNAUTHORIZED", details: { session: "cross-origin", sec_fetch_site: site } });
    }
    // A page on another port of this host cannot open the event stream with the cookie.
    const stream = await openEventStream(`${server.url}/api/v1/events/stream`, { headers: { cookie, "sec-fetch-site": "same-site" } });
    expect(stream.status).toBe(401);
    stream.close();
    expect((await server.api("GET", "/session", from("same-site"))).body.data).toMatchObject({ signed_in: false });
    // A bearer token is judged by itself, whatever the header says.
    expect((await server.api("GET", "/tasks", { headers: { "sec-fetch-site": "cross-site" } })).status).toBe(200);
  });

  it("ends the session a browser already holds when it signs in again", async () => {
    const server = await start();
    const first = await signIn(server, TOKENS.read);
    const res = await server.api("POST", "/session", { token: TOKENS.admin, headers: { cookie: first.cookie } });
    expect(res.status).toBe(201);
    expect((await server.api("GET", "/status", withCookie(first.cookie))).status).toBe(401);
    const second = res.headers.get("set-cookie")!.split(";")[0]!;
    expect((await server.api("GET", "/session", withCookie(second))).body.data).toMatchObject({ role: "admin", via: "session" });
  });

  it("bounds the sessions of one token: signing in once more ends the oldest", async () => {
    const server = await start({ app: { sessions: { limits: { perToken: 2, total: 100 } } } });
    const first = await signIn(server, TOKENS.read);
    const second = await signIn(server, TOKENS.read);
    const third = await signIn(server, TOKENS.read);
    expect((await server.api("GET", "/status", withCookie(first.cookie))).status).toBe(401);
    for (const s of [second, third]) expect((await server.api("GET", "/status", withCookie(s.cookie))).status).toBe(200);
  });

  it("refuses a sign-in when all sessions are taken, with a clear 429", async () => {
    const server = await start({ app: { sessions: { limits: { perToken: 5, total: 1 } } } });
    await signIn(server, TOKENS.read);
    const res = await server.api("POST", "/session", { token: TOKENS.admin });
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ code: "RATE_LIMITED", details: { limit: 1 } });
    expect(res.headers.get("retry-after")).toBe("60");
  });

  it("writes neither the token nor the session cookie to the log", async () => {
    let log = "";
    const stream = new Writable({
      write(chunk, _enc, done) {
        log += chunk;
        done();
      },
    });
    const server = await start({ app: { logger: { level: "debug", stream } } });
    const s = await signIn(server, TOKENS.admin);
    await server.api("GET", "/tasks", withCookie(s.cookie));
    await server.api("GET", "/tasks", withCookie("mcc_session=guessed-value"));
    await server.api("DELETE", "/session", withCookie(s.cookie, s.csrf));
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [TOKENS.admin, s.cookie.split("=")[1]!, s.csrf, "guessed-value"]) expect(log).not.toContain(secret);
  });
});

describe("the dashboard's files", () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it("serves / and its assets with a strict CSP, nosniff, and cache headers by kind", async () => {
    const server = await start();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe");
    const html = await page.text();
    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${server.url}${script}`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    const missing = await fetch(`${server.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe("NOT_FOUND");
  });

  it("says how to build it when the bundle is missing", async () => {
    const server = await start({ app: { dashboardDir: join(root, "no-such-dir") } });
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toMatch(/npm run build/);
  });
});

// Without redis-server these are reported as skipped; in CI a missing server is a failure.
describe.skipIf(!findRedisServer() && !process.env.CI)("dashboard sessions on a Redis-backed replica pair", () => {
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await redis?.stop();
  });

  it("signs out on every replica: a session made on one is refused on the other once ended", async () => {
    const app = { sessions: { streamCheckMs: 200 } };
    const a = await start({ store: await createRedisStore(redis!.url), app });
    const b = await start({ store: await createRedisStore(redis!.url), app });
    const s = await signIn(a, TOKENS.read);
    expect((await b.api("GET", "/nodes", withCookie(s.cookie))).status).toBe(200);
    const stream = await openEventStream(`${a.url}/api/v1/events/stream`, { headers: { cookie: s.cookie } });
    expect(stream.status).toBe(200);
    // Sign-out is a mutation: it needs the CSRF token too.
    expect((await b.api("DELETE", "/session", withCookie(s.cookie))).body.code).toBe("CSRF_TOKEN_INVALID");
    const out = await b.api("DELETE", "/session", withCookie(s.cookie, s.csrf));
    expect(out.body.data).toEqual({ signed_out: true });
    expect(out.headers.get("set-cookie")).toMatch(/^mcc_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    for (const server of [a, b]) {
      const res = await server.api("GET", "/nodes", withCookie(s.cookie));
      expect(res.status).toBe(401);
      expect(res.body.error).toMatch(/session has expired or was signed out/);
    }
    // The stream opened on replica A ends too (its periodic check finds the session gone).
    await stream.ended;
    // Signing out without a session just clears the cookie.
    expect((await a.api("DELETE", "/session", { token: null })).body.data).toEqual({ signed_out: false });
  }, 30_000);
});
