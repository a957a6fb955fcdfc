import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../../src/store/redis.js";
import type { ClaimNextOutcome, ClaimNextRequest, Store } from "../../src/store/types.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { makeHarness } from "./conformance-harness.js";

const skip = !findRedisServer() && !process.env.CI;
const PREFIX = "outcome:";

/**
 * The outcome a Lua claim keeps for a second run of its transaction id (a claim whose answer a
 * dropped connection took is sent again): it answers the same claim, and stays small, since
 * one is kept per claim for 5 minutes.
 */
describe.skipIf(skip)("Redis: a claim's kept outcome (real redis-server)", () => {
  let server: RedisServer;
  let raw: Redis;
  let store: Store;

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url);
    store = await createRedisStore(server.url, { keyPrefix: PREFIX });
  });
  afterAll(async () => {
    await store?.close();
    raw?.disconnect();
    await server?.stop();
  });

  it("a second run of a claim's id answers the same task without claiming again, from an outcome that holds no task record", async () => {
    const h = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    const reg = await h.register("n1");
    const task = await h.createTask({ description: "d".repeat(4_000) });
    const request = { registration_id: reg, node_id: "n1", worker_name: "w", now: new Date(h.now()), lease_ms: 60_000, lookahead: 32 };
    // The Redis store's claimNext takes the transaction id of a resend as a second argument.
    const claim = store.claimNext as (request: ClaimNextRequest, txid: string) => Promise<ClaimNextOutcome>;
    const first = await claim(request, "tx-1");
    expect(first).toMatchObject({ kind: "claimed", task: { id: task.id, status: "claimed" } });
    const eventsAfterFirst = await store.readEvents(0, 1_000);

    const again = await claim({ ...request, now: new Date(h.now() + 1_000) }, "tx-1");
    expect(again).toEqual(first);
    expect(await store.readEvents(0, 1_000)).toEqual(eventsAfterFirst);
    expect((await store.getNode("n1"))?.claimed_tasks).toEqual([task.id]);
    // The task record (4 KB of description) is not kept twice.
    expect(await raw.strlen(`${PREFIX}tx:tx-1`)).toBeLessThan(1_000);
    await h.coord.stop();
  });
});
