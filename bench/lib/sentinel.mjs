// A Redis Sentinel deployment for the failover scenario: a primary, a replica and three
// sentinels on free loopback ports (down after 1 s), like test/helpers/redis-sentinel.ts.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, startRedis } from "./processes.mjs";
import { sleep } from "./stats.mjs";

export const MASTER = "mcc-bench";

async function ask(port, fn) {
  const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function startSentinels() {
  const primary = await startRedis();
  const replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
  const all = [primary, replica];
  await until("the replica to sync", 30_000, () => ask(replica.port, async (r) => ((await r.info("replication")).includes("master_link_status:up") ? true : undefined)));
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), "mcc-bench-sentinel-"));
    const port = await freePort();
    const conf = join(dir, "sentinel.conf");
    writeFileSync(conf, [`port ${port}`, "bind 127.0.0.1", "protected-mode no", `dir ${dir}`, `sentinel monitor ${MASTER} 127.0.0.1 ${primary.port} 2`, `sentinel down-after-milliseconds ${MASTER} 1000`, `sentinel failover-timeout ${MASTER} 10000`, ""].join("\n"));
    all.push(await startRedis([], { args: [conf, "--sentinel"], port, dir }));
  }
  const sentinels = all.slice(2);
  for (const s of sentinels) {
    await until("the sentinels to agree", 60_000, () =>
      ask(s.port, async (r) => ((await r.call("SENTINEL", "REPLICAS", MASTER)).length >= 1 && (await r.call("SENTINEL", "SENTINELS", MASTER)).length >= 2 ? true : undefined)),
    );
  }
  return {
    primary,
    url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${MASTER}/0`,
    stop: () => Promise.all(all.map((p) => p.stop())),
  };
}
