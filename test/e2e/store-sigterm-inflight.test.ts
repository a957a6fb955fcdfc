import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { api, ok, startReplica } from "../helpers/cluster.js";
import { findRedisServer, startRedisServer } from "../helpers/redis-server.js";

describe.skipIf(!findRedisServer() && !process.env.CI)("graceful shutdown (real processes)", () => {
  it("SIGTERM while a change is in flight: the change is committed and its client gets the answer", async () => {
    const redis = await startRedisServer();
    const admin = new Redis(redis.url);
    try {
      const replica = await startReplica(redis.url);
      const reg = (await ok(replica.url, "POST", "/register", { node_id: "n", capacity: { max_workers: 1 } })).registration_id;
      const task = await ok(replica.url, "POST", "/tasks", { repo: "x", description: "y" });
      await ok(replica.url, "POST", `/tasks/${task.id}/claim`, { registration_id: reg, worker_name: "w" });
      // Hold Redis for a moment so the complete is still in flight when the signal comes.
      await admin.call("CLIENT", "PAUSE", "1500", "ALL");
      const inflight = api(replica.url, "POST", `/tasks/${task.id}/complete`, { registration_id: reg }).then(
        (answer) => answer,
        (err: Error) => err.message,
      );
      await new Promise((r) => setTimeout(r, 300));
      const exit = replica.stop("SIGTERM");
      const answer = await inflight;
      expect(await exit).toBe(0);
      expect(answer).toMatchObject({ status: 200, body: { success: true, data: { status: "completed" } } });

      const again = await startReplica(redis.url);
      expect((await ok(again.url, "GET", `/tasks/${task.id}`)).status).toBe("completed");
      await again.stop("SIGTERM");
    } finally {
      admin.disconnect();
      await redis.stop();
    }
  }, 30_000);
});
