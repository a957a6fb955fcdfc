/**
 * A real Redis Sentinel deployment for tests: a primary, a replica and three sentinels
 * (`redis-server CONF --sentinel`), all on free loopback ports with generated config files.
 * Failover is fast (down after 1 s) so a test can kill the primary and wait for the promotion.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { spawnRedis, startRedisServer, type RedisServer } from "./redis-server.js";

export const MASTER_NAME = "mcc-test";

export interface SentinelDeployment {
  primary: RedisServer;
  replica: RedisServer;
  sentinels: RedisServer[];
  /** `redis+sentinel://127.0.0.1:P1,…/MASTER/0` plus `query` (e.g. `?wait_timeout_ms=5000`). */
  url(query?: string): string;
  /** The port Sentinel currently names as the master's. */
  masterPort(): Promise<number>;
  /** Waits until every sentinel names another master than `port`, and it accepts writes. */
  awaitFailover(fromPort: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One short-lived connection for one question. */
async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  r.on("error", () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function startSentinel(primaryPort: number): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "mcc-sentinel-"));
  const conf = join(dir, "sentinel.conf");
  // Written again for each port spawnRedis tries (Sentinel rewrites its own config file too).
  const argsFor = (port: number) => {
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        "protected-mode no",
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        "",
      ].join("\n"),
    );
    return [conf, "--sentinel"];
  };
  return spawnRedis(argsFor, dir);
}

/** Starts the deployment and waits until it could fail over (replica in sync, sentinels agree). */
export async function startSentinelDeployment(): Promise<SentinelDeployment> {
  const started: RedisServer[] = [];
  try {
    const primary = await startRedisServer();
    started.push(primary);
    const replica = await startRedisServer(["--replicaof", "127.0.0.1", String(primary.port)]);
    started.push(replica);
    await until("the replica to sync", 30_000, () =>
      ask(replica.port, async (r) => ((await r.info("replication")).includes("master_link_status:up") ? true : undefined)),
    );
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startSentinel(primary.port);
      started.push(s);
      sentinels.push(s);
    }
    // Each sentinel knows the replica and the other two, so a failover can be authorised.
    for (const s of sentinels) {
      await until("the sentinels to find each other and the replica", 60_000, () =>
        ask(s.port, async (r) => {
          const replicas = (await r.call("SENTINEL", "REPLICAS", MASTER_NAME)) as unknown[];
          const peers = (await r.call("SENTINEL", "SENTINELS", MASTER_NAME)) as unknown[];
          return replicas.length >= 1 && peers.length >= 2 ? true : undefined;
        }),
      );
    }
    const masterPortOf = (s: RedisServer) =>
      ask(s.port, async (r) => Number(((await r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)) as string[])[1]));
    return {
      primary,
      replica,
      sentinels,
      url: (query = "") => `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${MASTER_NAME}/0${query}`,
      masterPort: () => masterPortOf(sentinels[0]!),
      awaitFailover: (fromPort, timeoutMs) =>
        until("Sentinel to promote the replica", timeoutMs, async () => {
          const ports = await Promise.all(sentinels.map((s) => masterPortOf(s).catch(() => fromPort)));
          const next = ports[0]!;
          if (next === fromPort || ports.some((p) => p !== next)) return undefined;
          const role = await ask(next, async (r) => ((await r.call("ROLE")) as unknown[])[0]);
          return role === "master" ? next : undefined;
        }),
      async stop() {
        await Promise.all(started.map((s) => s.stop()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
}
