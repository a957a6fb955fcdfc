import { describe, expect, it } from "vitest";
import type { CoordEvent } from "../../src/core/types.js";
import { createEventFeed } from "../../src/store/redis-events.js";

// The ordering logic of the Redis event feed, over a log held in an array (no Redis needed):
// batches arrive late, twice, or never, and listeners must still see every id once, in order.
function setup(initial: number, gapWaitMs?: number) {
  const log: CoordEvent[] = [];
  const append = (n: number) => {
    const batch: CoordEvent[] = [];
    for (let i = 0; i < n; i++) batch.push({ id: log.length + 1 + i, type: "task.created", data: { ts: "t" } });
    log.push(...batch);
    return batch;
  };
  append(initial);
  const reads: number[] = [];
  const feed = createEventFeed({
    readLog: async (after, limit) => {
      reads.push(after);
      return log.filter((e) => e.id > after).slice(0, limit);
    },
    lastId: async () => log.length,
    gapWaitMs,
  });
  const seen: number[] = [];
  feed.add((batch) => seen.push(...batch.map((e) => e.id)));
  return { feed, append, seen, reads };
}

describe("Redis event feed ordering", () => {
  it("starts at the end of the log and delivers later batches in id order exactly once", async () => {
    const { feed, append, seen, reads } = setup(3);
    await feed.start();
    const b1 = append(2);
    const b2 = append(1);
    const b3 = append(3);
    await Promise.all([feed.ingest(b3), feed.ingest(b1), feed.ingest(b1), feed.ingest(b2)]);
    expect(seen).toEqual([4, 5, 6, 7, 8, 9]);
    expect(reads).toEqual([]);
  });

  it("holds a batch that came ahead of the one before it until that one comes, without reading the log", async () => {
    // A commit's own answer and the pub/sub message of the commit before it arrive in either order.
    const { feed, append, seen, reads } = setup(0, 60_000);
    await feed.start();
    const b1 = append(1);
    const b2 = append(2);
    let b2Delivered = false;
    const early = feed.ingest(b2).then(() => (b2Delivered = true));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    expect(b2Delivered).toBe(false);
    await feed.ingest(b1);
    await early;
    expect(seen).toEqual([1, 2, 3]);
    expect(reads).toEqual([]);
  });

  it("reads a gap that does not close within the wait from the log", async () => {
    const { feed, append, seen, reads } = setup(0, 5);
    await feed.start();
    append(2); // never arrives through pub/sub
    await feed.ingest(append(1));
    expect(seen).toEqual([1, 2, 3]);
    expect(reads).toEqual([0]);
  });

  it("holds at most 1,000 early batches: one more reads the gap from the log at once", async () => {
    // Wait far longer than the test: only the bound can make the feed read the log.
    const { feed, append, seen, reads } = setup(0, 60_000);
    await feed.start();
    append(1); // never arrives through pub/sub
    const early = Array.from({ length: 1001 }, () => append(1));
    await Promise.all(early.map((b) => feed.ingest(b)));
    expect(reads).toEqual([0]);
    expect(seen).toEqual(Array.from({ length: 1002 }, (_, i) => i + 1));
  });

  it("fills a lost batch from the log on catch-up", async () => {
    const { feed, append, seen } = setup(0);
    await feed.start();
    append(2); // never arrives through pub/sub
    await feed.catchUp();
    await feed.ingest(append(1));
    expect(seen).toEqual([1, 2, 3]);
  });
});
