/**
 * DESIGN §14: CORS is off unless origins are configured (preflight included); tokens are only
 * read from the Authorization header, and query strings never reach the request log verbatim.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const preflight = (url: string, origin: string) =>
  fetch(`${url}/api/v1/tasks`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
  });

describe("CORS", () => {
  it("is off by default: a preflight gets the 404 envelope and answers carry no CORS headers", async () => {
    server = await startTestServer();
    const res = await preflight(server.url, "https://dash.example.com");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ success: false, code: "NOT_FOUND" });
    const get = await server.api("GET", "/health", { headers: { origin: "https://dash.example.com" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows the configured origins: preflight without a token, then the real request with one", async () => {
    server = await startTestServer({ app: { corsOrigins: ["https://dash.example.com"] } });
    const res = await preflight(server.url, "https://dash.example.com");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    expect(res.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(res.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(res.headers.get("access-control-max-age")).toBe("600");

    const created = await server.api("POST", "/tasks", {
      token: TOKENS.node,
      headers: { origin: "https://dash.example.com" },
      body: { repo: "r", description: "from a browser" },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    expect(created.headers.get("access-control-expose-headers")).toMatch(/warning/);
  });

  it("does not allow other origins", async () => {
    server = await startTestServer({ app: { corsOrigins: ["https://dash.example.com"] } });
    const res = await preflight(server.url, "https://evil.example.net");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const get = await server.api("GET", "/health", { headers: { origin: "https://evil.example.net" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is configured as server.cors.origins and validated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcc-cors-"));
    const env = { HOME: dir };
    writeFileSync(join(dir, "coordination.yaml"), 'server:\n  cors:\n    origins: ["https://dash.example.com", "http://localhost:5173", "*"]\n');
    expect((await loadConfig({ cwd: dir, env })).server.cors.origins).toEqual(["https://dash.example.com", "http://localhost:5173", "*"]);
    writeFileSync(join(dir, "coordination.yaml"), "server:\n  cors:\n    origins: [\"https://dash.example.com/app\", 7]\n    allow: all\n");
    const err = await loadConfig({ cwd: dir, env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      "server.cors.allow: unknown key (expected one of origins)",
      expect.stringMatching(/^server\.cors\.origins\[0\]: expected an origin like/),
      expect.stringMatching(/^server\.cors\.origins\[1\]: expected an origin like/),
    ]);
    writeFileSync(join(dir, "coordination.yaml"), "server: {}\n");
    expect((await loadConfig({ cwd: dir, env })).server.cors.origins).toEqual([]);
  });
});

describe("tokens only in the Authorization header", () => {
  it("refuses ?token= and ?access_token= with 400 INVALID_REQUEST naming the parameter, even with a valid header", async () => {
    server = await startTestServer();
    for (const name of ["token", "access_token"]) {
      const res = await server.api("GET", `/tasks?${name}=${TOKENS.read}`, { token: TOKENS.read });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ success: false, code: "INVALID_REQUEST", details: { fields: [{ field: `query.${name}` }] } });
      expect(res.body.error).toMatch(/Authorization header/);
    }
    const anon = await server.api("GET", `/health?token=${TOKENS.admin}`, { token: null });
    expect(anon.status).toBe(400);
  });

  it("writes query strings into the request log with their values redacted", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    // debug: reads are logged only there (one line each, issue 13).
    server = await startTestServer({ app: { logger: { level: "debug", stream } } });
    await server.api("GET", `/tasks?token=${TOKENS.admin}&repo=secret-repo`, { token: TOKENS.read });
    await server.api("GET", "/tasks?repo=my-repo&limit=5", { token: TOKENS.read });
    const log = lines.join("\n");
    expect(log).not.toContain(TOKENS.admin);
    expect(log).not.toContain(TOKENS.read);
    expect(log).not.toContain("secret-repo");
    const urls = lines.map((l) => JSON.parse(l) as { url?: string }).flatMap((l) => (l.url ? [l.url] : []));
    expect(urls).toEqual(["/api/v1/tasks?token=…&repo=…", "/api/v1/tasks?repo=…&limit=…"]);
  });
});
