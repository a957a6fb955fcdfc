import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIN, spawnServe, type ServeProcess } from "../helpers/serve-process.js";

const TOKEN = "e2e-admin-token";

async function api(url: string, method: string, path: string, body?: unknown, token = TOKEN) {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

describe("multiclaude-coord serve (real binary)", () => {
  let home: string;
  let serve: ServeProcess | undefined;
  let config: string;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "mcc-serve-"));
    config = join(home, "coordination.yaml");
    writeFileSync(config, `server:\n  auth:\n    tokens: ["${TOKEN}"]\n`);
  });
  afterEach(async () => {
    await serve?.stop("SIGKILL");
    serve = undefined;
    rmSync(home, { recursive: true, force: true });
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: open event streams and long polls end, the process exits 0 and frees the port`, async () => {
      serve = await spawnServe(["--listen", "127.0.0.1:0", "--store", "memory://", "--config", config], { home });
      const reg = (await api(serve.url, "POST", "/register", { node_id: "machine-b" })).body.data.registration_id;

      const stream = await fetch(`${serve.url}/api/v1/events/stream?since=0`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(stream.status).toBe(200);
      const reader = stream.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain("retry: 3000");
      const streamEnded = (async () => {
        for (;;) if ((await reader.read()).done) return true;
      })();
      const longPoll = api(serve.url, "POST", "/tasks/claim", { registration_id: reg, worker_name: "w", wait_seconds: 120 });
      // The signal must find the long poll waiting: wait until serve counts it, not for a time.
      const waiting = async () => /^mcc_long_polls 1$/m.test(await (await fetch(`${serve!.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
      for (let i = 0; i < 500 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await waiting()).toBe(true);

      const code = await serve.stop(signal);
      expect(code).toBe(0);
      expect(await streamEnded).toBe(true);
      // The long poll is answered (no task) rather than left hanging.
      const answered = await longPoll.then((r) => r.body, (err: Error) => err.message);
      expect(answered).toEqual({ success: true, data: { task: null } });
      expect(await portIsFree(serve.port)).toBe(true);
    });
  }

  it("with no --store keeps state in SQLite at ~/.multiclaude/coordination.db across restarts", async () => {
    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", config], { home });
    const created = await api(serve.url, "POST", "/tasks", { repo: "my-repo", description: "survive a restart" });
    expect(created.status).toBe(201);
    const before = await api(serve.url, "GET", "/events?since=0");
    expect(await serve.stop()).toBe(0);

    const db = join(home, ".multiclaude", "coordination.db");
    expect(statSync(db).isFile()).toBe(true);
    expect(statSync(join(home, ".multiclaude")).mode & 0o777).toBe(0o700);

    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", config], { home });
    const status = await api(serve.url, "GET", "/status");
    expect(status.body.data.store).toBe("sqlite");
    expect((await api(serve.url, "GET", `/tasks/${created.body.data.id}`)).body.data.description).toBe("survive a restart");
    const after = await api(serve.url, "GET", "/events?since=0");
    expect(after.body.data.events).toEqual(before.body.data.events);
    // New events continue the old ids.
    await api(serve.url, "POST", "/tasks", { repo: "my-repo", description: "after" });
    const next = await api(serve.url, "GET", `/events?since=${before.body.data.last_event_id}`);
    expect(next.body.data.events.map((e: any) => e.id)).toEqual([before.body.data.last_event_id + 1]);
  }, 60_000); // serve started more than once: a loaded machine takes 10 s and more

  it("with no token configured, creates an admin token file (0600) once and reuses it", async () => {
    const bare = join(home, "bare.yaml");
    writeFileSync(bare, "store: memory://\n");
    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", bare], { home });
    const file = join(home, ".multiclaude", "coordination-token");
    expect(serve.tokenFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, "utf8").trim();
    expect((await api(serve.url, "GET", "/status", undefined, token)).status).toBe(200);
    expect((await api(serve.url, "GET", "/status", undefined, "guess")).status).toBe(401);
    expect(serve.stderr()).not.toContain(token);
    await serve.stop();

    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", bare], { home });
    expect(readFileSync(file, "utf8").trim()).toBe(token);
    expect((await api(serve.url, "GET", "/status", undefined, token)).status).toBe(200);
  }, 60_000); // serve started more than once: a loaded machine takes 10 s and more

  it("refuses a non-loopback address with auth off unless --insecure", () => {
    const open = join(home, "open.yaml");
    writeFileSync(open, "server:\n  auth:\n    require_auth: false\nstore: memory://\n");
    const run = spawnSync(process.execPath, [BIN, "serve", "--listen", "0.0.0.0:0", "--config", open], {
      env: { ...process.env, HOME: home, NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--insecure/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
