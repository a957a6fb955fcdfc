/**
 * The suite's own redis-server starter (test/helpers/redis-server.ts) when the free port it
 * picked is taken before redis-server binds it, as happens with test files running in parallel:
 * it must neither fail nor hand out the Redis (or whatever) that took the port.
 */
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findRedisServer, freePort, spawnRedis, startRedisServer, type RedisServer } from "../helpers/redis-server.js";

const skip = !findRedisServer() && !process.env.CI;

describe.skipIf(skip)("starting a test redis-server on a port someone took meanwhile", () => {
  const started: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });
  const args = (dir: string) => (port: number) => ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"];
  /** The taken port first, then free ones. */
  const takenFirst = (taken: number) => {
    let calls = 0;
    return () => (calls++ === 0 ? Promise.resolve(taken) : freePort());
  };

  it("another Redis on the port: ours starts on another port, and the other is not taken for it", async () => {
    const other = await startRedisServer();
    started.push(other);
    const dir = mkdtempSync(join(tmpdir(), "mcc-redis-"));
    const ours = await spawnRedis(args(dir), dir, takenFirst(other.port));
    started.push(ours);
    expect(ours.port).not.toBe(other.port);
    expect(ours.pid).not.toBe(other.pid);
  });

  it("a plain TCP listener on the port (one that never answers): ours starts on another port", async () => {
    const held = new Set<import("node:net").Socket>();
    const squatter = createServer((s) => void held.add(s));
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    try {
      const taken = (squatter.address() as { port: number }).port;
      const dir = mkdtempSync(join(tmpdir(), "mcc-redis-"));
      const ours = await spawnRedis(args(dir), dir, takenFirst(taken));
      started.push(ours);
      expect(ours.port).not.toBe(taken);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
