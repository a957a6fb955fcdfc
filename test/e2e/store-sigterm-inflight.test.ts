import { describe, expect, it } from "vitest";
import { api, ok, startReplica } from "../helpers/cluster.js";
import { findRedisServer, startRedisServer } from "../helpers/redis-server.js";
import { startTcpProxy } from "../store/tcp-proxy.js";

describe.skipIf(!findRedisServer() && !process.env.CI)("graceful shutdown (real processes)", () => {
  it("SIGTERM while a change is in flight: the change is committed and its client gets the answer", async () => {
    const redis = await startRedisServer();
    // The replica reaches Redis through a proxy that can hold a request back: the complete is
    // known to be in flight (sent to Redis, not yet run) when the signal comes, whatever the load.
    const proxy = await startTcpProxy(redis.port);
    try {
      const replica = await startReplica(proxy.url);
      const reg = (await ok(replica.url, "POST", "/register", { node_id: "n", capacity: { max_workers: 1 } })).registration_id;
      const task = await ok(replica.url, "POST", "/tasks", { repo: "x", description: "y" });
      await ok(replica.url, "POST", `/tasks/${task.id}/claim`, { registration_id: reg, worker_name: "w" });
      const held = proxy.holdNext(task.id);
      const inflight = api(replica.url, "POST", `/tasks/${task.id}/complete`, { registration_id: reg }).then(
        (answer) => answer,
        (err: Error) => err.message,
      );
      await held;
      const exit = replica.stop("SIGTERM");
      // Shutdown has begun (it says so before it closes anything); only then may Redis answer.
      for (let i = 0; i < 500 && !replica.stderr().includes("shutting down"); i++) await new Promise((r) => setTimeout(r, 20));
      expect(replica.stderr()).toContain("shutting down");
      proxy.release();
      const answer = await inflight;
      expect(await exit).toBe(0);
      expect(answer).toMatchObject({ status: 200, body: { success: true, data: { status: "completed" } } });

      const again = await startReplica(redis.url);
      expect((await ok(again.url, "GET", `/tasks/${task.id}`)).status).toBe("completed");
      await again.stop("SIGTERM");
    } finally {
      await proxy.close();
      await redis.stop();
    }
  }, 30_000);
});
