/**
 * Redis store URLs (redis://, redis+sentinel://) and the replica wait of commits: a write is
 * answered only once the primary's replica has it, and 503 (not retry-safe) when the replica
 * does not confirm in time. Real redis-server processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { isCoordError } from "../../src/core/errors.js";
import { createStore } from "../../src/store/index.js";
import { redactUrl } from "../../src/store/redact-url.js";
import { parseRedisUrl } from "../../src/store/redis-url.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";

describe("parseRedisUrl", () => {
  it("reads a Sentinel URL: sentinels (port 26379 by default), master name, db, passwords, and waits for 1 replica", () => {
    const t = parseRedisUrl("redis+sentinel://app:s%40cret@10.0.0.1:26380,10.0.0.2,[::1]:26381/mymaster/3?prefix=team-a:&sentinel_password=sp");
    expect(t.connect).toEqual({
      sentinels: [
        { host: "10.0.0.1", port: 26380 },
        { host: "10.0.0.2", port: 26379 },
        { host: "::1", port: 26381 },
      ],
      name: "mymaster",
      db: 3,
      username: "app",
      password: "s@cret",
      sentinelPassword: "sp",
    });
    expect(t).toMatchObject({ keyPrefix: "team-a:", waitReplicas: 1, waitTimeoutMs: 2000 });
    expect(parseRedisUrl("redis+sentinel://h:1/m?wait_replicas=0&wait_timeout_ms=50")).toMatchObject({ waitReplicas: 0, waitTimeoutMs: 50, connect: { db: 0 } });
  });

  it("passes plain redis:// URLs on without our options, waiting for no replica unless asked", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6379/2?prefix=x:")).toEqual({ connect: "redis://127.0.0.1:6379/2", keyPrefix: "x:", waitReplicas: 0, waitTimeoutMs: 2000 });
    expect(parseRedisUrl("rediss://h/0?wait_replicas=2")).toMatchObject({ waitReplicas: 2 });
  });

  it.each([
    ["redis+sentinel://h:1", /expected redis\+sentinel/],
    ["redis+sentinel://h:1/bad name!/0", /master name/],
    ["redis+sentinel://h:1/m/x", /database "x"/],
    ["redis+sentinel://h:1:2/m", /sentinel "h:1:2"/],
    ["redis+sentinel://h:99999/m", /port out of range/],
    ["redis+sentinel://h:1/m?color=red", /unknown option "color"/],
    ["redis+sentinel://h:1/m?wait_replicas=-1", /wait_replicas must be/],
    ["rediss+sentinel://h:1/m", /TLS to Sentinel/],
    ["redis://h/abc", /database "abc"/],
  ])("refuses %s", async (url, why) => {
    expect(() => parseRedisUrl(url)).toThrow(why);
    const err = await createStore(url).catch((e: unknown) => e);
    expect(isCoordError(err) && err.code).toBe("INVALID_REQUEST");
    expect((err as Error).message).toMatch(why);
  });

  it("never echoes passwords of Sentinel URLs", () => {
    expect(redactUrl("redis+sentinel://app:pw@h:1,h:2/m/0?sentinel_password=sp&prefix=a:")).toBe("redis+sentinel://***@h:1,h:2/m/0?sentinel_password=***&prefix=a:");
    expect(redactUrl("redis://:pw@h:6379/0")).toBe("redis://***@h:6379/0");
  });
});

const skip = !findRedisServer() && !process.env.CI;

describe.skipIf(skip)("wait_replicas: commits wait for the primary's replica (real redis-server processes)", () => {
  let primary: RedisServer;
  let replica: RedisServer;
  beforeAll(async () => {
    primary = await startRedisServer();
    replica = await startRedisServer(["--replicaof", "127.0.0.1", String(primary.port)]);
    const r = new Redis(replica.port, "127.0.0.1");
    try {
      for (let i = 0; !(await r.info("replication")).includes("master_link_status:up"); i++) {
        if (i > 300) throw new Error("the replica did not sync");
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      r.disconnect();
    }
  }, 60_000);
  afterAll(async () => {
    process.kill(replica.pid, "SIGCONT");
    await Promise.all([replica?.stop(), primary?.stop()]);
  });

  it("an answered write is on the replica; a replica that does not confirm in time makes it a 503, not retry-safe", async () => {
    // Two stores on the same keys: the answered writes may wait long (a loaded machine can keep a
    // running replica from confirming within 300 ms, which is then rightly a 503), the one to a
    // stopped replica gives up after 300 ms.
    const patient = await createStore(`redis://127.0.0.1:${primary.port}/0?prefix=wait:&wait_replicas=1&wait_timeout_ms=10000`);
    const store = await createStore(`redis://127.0.0.1:${primary.port}/0?prefix=wait:&wait_replicas=1&wait_timeout_ms=300`);
    const onReplica = new Redis(replica.port, "127.0.0.1");
    const write = (name: string, on = store) => on.transact(async (tx) => tx.putRepo({ name, active_prs: 1, reported_by: "n", updated_at: new Date().toISOString() }));
    try {
      for (let i = 0; i < 20; i++) {
        await write(`r${i}`, patient);
        // Read from the replica right after the answer: no waiting, it is there already.
        expect(await onReplica.exists(`wait:repo:r${i}`)).toBe(1);
      }
      process.kill(replica.pid, "SIGSTOP");
      const err = await write("late").catch((e: unknown) => e);
      expect(isCoordError(err) && err.code).toBe("UNAVAILABLE");
      expect((err as { details: Record<string, unknown> }).details).toMatchObject({ retry_safe: false, replicas_acked: 0, replicas_wanted: 1 });
      // Dashboard sessions too: a failover must not sign people out (issue 17 review).
      const t = Date.now();
      const session = { id: "s1", token_key: "k", csrf: "c", created_ms: t, expires_ms: t + 60_000 };
      const refused = await store.createSession(session, { perToken: 5, total: 10 }, t).catch((e: unknown) => e);
      expect(isCoordError(refused) && refused.code).toBe("UNAVAILABLE");
      process.kill(replica.pid, "SIGCONT");
      expect(await patient.deleteSession("s1")).toBe(true);
      expect(await onReplica.exists("wait:sess:s1")).toBe(0);
    } finally {
      process.kill(replica.pid, "SIGCONT");
      onReplica.disconnect();
      await Promise.all([store.close(), patient.close()]);
    }
  }, 60_000);
});
