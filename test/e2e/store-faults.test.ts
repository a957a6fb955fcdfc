/**
 * Issue 11, defect 6, with real processes: a Redis-backed `serve` whose Redis is gone answers
 * 503 UNAVAILABLE (never 500), says so on /ready while /health stays up, and exits within its
 * shutdown deadline on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../cli/harness.js";
import { api, cleanupTemp, startReplica } from "../helpers/cluster.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import type { ServeProcess } from "../helpers/serve-process.js";

const skip = !findRedisServer() && !process.env.CI;

describe.skipIf(skip)("a Redis-backed serve whose Redis goes away (issue 11, defect 6)", () => {
  let redis: RedisServer | undefined;
  let serve: ServeProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedisServer();
    serve = await startReplica(`${redis.url}?prefix=faults:`);
  }, 120_000);
  afterAll(async () => {
    await serve?.stop("SIGKILL");
    await redis?.stop();
    cleanupTemp();
  });

  it("answers 503 UNAVAILABLE while Redis is gone, /ready says so, /health stays 200; SIGTERM exits in time", async () => {
    const s = serve!;
    expect((await api(s.url, "GET", "/ready")).status).toBe(200);
    const reg = (await api(s.url, "POST", "/register", { node_id: "n1" })).body.data.registration_id;
    // A long poll is in flight when Redis goes away.
    const poll = api(s.url, "POST", "/tasks/claim", { registration_id: reg, worker_name: "w", wait_seconds: 30 }).catch((e: unknown) => e);
    await redis!.stop();

    const created = await api(s.url, "POST", "/tasks", { repo: "r", description: "d" });
    expect(created.status).toBe(503);
    expect(created.body).toMatchObject({ success: false, code: "UNAVAILABLE", details: { retry_safe: true } });
    const listed = await api(s.url, "GET", "/tasks");
    expect(listed.status).toBe(503);
    expect(listed.body.code).toBe("UNAVAILABLE");
    const ready = await api(s.url, "GET", "/ready");
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ success: false, code: "UNAVAILABLE" });
    expect((await api(s.url, "GET", "/health")).status).toBe(200);

    const started = Date.now();
    const code = await s.stop("SIGTERM");
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(code).not.toBeNull();
    await poll;
  }, 60_000);
});
