import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { isCoordError } from "../../src/core/errors.js";
import type { Task } from "../../src/core/types.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { Store } from "../../src/store/types.js";
import { peakClaimedPerKey } from "../helpers/concurrency-peaks.js";
import { makeHarness, type Harness } from "./conformance-harness.js";

const LIMITS: Record<string, number> = { "key-a": 1, "key-b": 2, "key-c": 3 };
const PER_KEY = 15;
const NODES = 9;
const WORKERS_PER_NODE = 3;

/**
 * DESIGN §11 across replicas: three coordinators, each with its own store instance, on one real
 * redis-server. Many workers claim at once (claim-next and by id), hold their task a moment and
 * end it; no key ever has more tasks claimed than its limit, by the event log's order and by the
 * store's own index sampled throughout.
 */
export function concurrencyRaceSpecs(url: () => string, nextPrefix: () => string): void {
  describe("three replicas on one redis-server: concurrency keys", () => {
    let stores: Store[] = [];
    let replicas: Harness[] = [];

    afterEach(async () => {
      await Promise.all(replicas.map((r) => r.coord.stop()));
      await Promise.all(stores.map((s) => s.close()));
      stores = [];
      replicas = [];
    });

    it(`${NODES * WORKERS_PER_NODE} workers over 3 replicas never claim more than the limit of a key`, async () => {
      const keyPrefix = nextPrefix();
      const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
      stores = await Promise.all([0, 1, 2].map(() => createRedisStore(url(), { keyPrefix })));
      replicas = stores.map((s) => makeHarness(s, clock));
      const all: Task[] = [];
      for (let i = 0; i < PER_KEY; i++) {
        for (const [key, limit] of Object.entries(LIMITS)) {
          all.push(await replicas[i % 3]!.createTask({ concurrency_key: key, concurrency_limit: limit, max_attempts: 100 }));
        }
        if (i % 3 === 0) all.push(await replicas[i % 3]!.createTask({ max_attempts: 100 }));
      }
      const regs = await Promise.all(
        Array.from({ length: NODES }, (_, i) => replicas[i % 3]!.register(`node-${i}`, { maxWorkers: WORKERS_PER_NODE })),
      );

      // The store's own index, sampled while the race runs.
      const admin = new Redis(url());
      let sampling = true;
      const sampledPeak: Record<string, number> = {};
      const sampler = (async () => {
        while (sampling) {
          const sizes = await Promise.all(Object.keys(LIMITS).map((k) => admin.scard(`${keyPrefix}claimed:k:${k}`)));
          Object.keys(LIMITS).forEach((k, i) => (sampledPeak[k] = Math.max(sampledPeak[k] ?? 0, sizes[i]!)));
        }
      })();

      const done = new Set<string>();
      const refusals: Record<string, number> = {};
      const worker = async (w: number) => {
        const replica = replicas[w % 3]!;
        const reg = regs[w % NODES]!;
        let turn = 0;
        while (done.size < all.length) {
          let task: Task | null = null;
          try {
            if (turn++ % 2 === 0) {
              task = await replica.coord.claimNext({ registration_id: reg, worker_name: `w${w}` });
            } else {
              // By id: a random one of the best few, often of a full key.
              const few = await replica.coord.tasks.pending({ limit: 12 });
              const pick = few[Math.floor(Math.random() * few.length)];
              if (pick) task = await replica.coord.tasks.claim(pick.id, { registration_id: reg, worker_name: `w${w}` });
            }
          } catch (err) {
            if (!isCoordError(err)) throw err;
            refusals[err.code] = (refusals[err.code] ?? 0) + 1;
          }
          if (!task) {
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
          // Hold it a moment, so claims of one key overlap.
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 15));
          const end = Math.random();
          if (end < 0.15) await replica.coord.tasks.release(task.id, { registration_id: reg });
          else if (end < 0.25) await replica.coord.tasks.fail(task.id, { registration_id: reg, reason: "flaky", retry: false }).then(() => done.add(task.id));
          else await replica.coord.tasks.complete(task.id, { registration_id: reg, pr: "#1" }).then(() => done.add(task.id));
        }
      };
      await Promise.all(Array.from({ length: NODES * WORKERS_PER_NODE }, (_, w) => worker(w)));
      sampling = false;
      await sampler;
      admin.disconnect();

      const events = await replicas[0]!.allEvents();
      const peak = peakClaimedPerKey(events);
      for (const [key, limit] of Object.entries(LIMITS)) {
        expect(peak[key], `peak of ${key} by the log`).toBeLessThanOrEqual(limit);
        expect(sampledPeak[key], `peak of ${key} sampled`).toBeLessThanOrEqual(limit);
        expect(await stores[1]!.countClaimedWithKey(key)).toBe(0);
      }
      // The race was real: limits were reached and claims were refused for them.
      expect(peak["key-c"]).toBe(3);
      expect(refusals.CONCURRENCY_LIMIT ?? 0).toBeGreaterThan(0);
      expect(events.filter((e) => e.type === "task.completed" || e.type === "task.failed")).toHaveLength(all.length);
    }, 120_000);
  });
}
