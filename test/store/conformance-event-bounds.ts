import { expect, it } from "vitest";
import { EVENT_TEXT_LIMIT, eventSize } from "../../src/core/events.js";
import type { CoordEvent } from "../../src/core/types.js";
import { makeHarness, type Harness, type MakeStore } from "./conformance-harness.js";

const utf8 = (s: unknown) => Buffer.byteLength(String(s), "utf8");
const sizeOf = (e: CoordEvent) => eventSize(e.id, e.type, JSON.stringify(e.data));

/** DESIGN §10: the event log is bounded: free text cut to 1 KiB, the log by count and by bytes. */
export function eventBoundSpecs(h: () => Harness, makeStore: MakeStore): void {
  it("cuts free text inside events to 1 KiB with truncated: true; the records keep the whole text", async () => {
    const { createTask, register, coord, store } = h();
    const emoji = "🦀".repeat(16_384); // 64 KiB of 4-byte characters
    const task = await createTask({ description: emoji });
    const reg = await register("n1");
    await coord.tasks.claim(task.id, { registration_id: reg, worker_name: "w" });
    const summary = `${"é".repeat(3000)}end`;
    await coord.tasks.complete(task.id, { registration_id: reg, summary });
    const short = await createTask({ description: "short" });

    const log = await h().allEvents();
    const created = log.find((e) => e.type === "task.created" && e.data.task_id === task.id)!;
    expect(created.data.truncated).toBe(true);
    expect(utf8(created.data.description)).toBeLessThanOrEqual(EVENT_TEXT_LIMIT);
    expect(utf8(created.data.description)).toBeGreaterThan(EVENT_TEXT_LIMIT - 4);
    expect(emoji.startsWith(created.data.description as string)).toBe(true); // cut between characters
    const completed = log.find((e) => e.type === "task.completed")!;
    expect(completed.data).toMatchObject({ truncated: true });
    expect(utf8(completed.data.summary)).toBeLessThanOrEqual(EVENT_TEXT_LIMIT);
    const plain = log.find((e) => e.type === "task.created" && e.data.task_id === short.id)!;
    expect(plain.data.truncated).toBeUndefined();
    expect(plain.data.description).toBe("short");

    const stored = await store.getTask(task.id);
    expect(stored!.description).toBe(emoji);
    expect(stored!.result?.summary).toBe(summary);
  });

  it("bounds the log by bytes as well as by count, keeping the newest events", async () => {
    const maxEventBytes = 20_000;
    const store = await makeStore({ retention: 10_000, maxEventBytes });
    try {
      const { createTask } = makeHarness(store, { t: Date.parse("2030-06-01T00:00:00Z") });
      for (let i = 0; i < 120; i++) await createTask({ description: `${i} ${"x".repeat(900)}` });
      const bounds = await store.eventBounds();
      const kept = await store.readEvents(0, 1000);
      const bytes = kept.reduce((n, e) => n + sizeOf(e), 0);
      expect(bytes).toBeLessThanOrEqual(maxEventBytes);
      // Trimmed only as far as needed: one more event would not have fitted.
      expect(bytes + sizeOf(kept[0]!)).toBeGreaterThan(maxEventBytes);
      expect(kept[0]!.id).toBe(bounds.oldest_id);
      expect(kept.at(-1)!.id).toBe(bounds.last_id);
      expect(kept.map((e) => e.id)).toEqual(Array.from({ length: kept.length }, (_, i) => bounds.oldest_id + i));
    } finally {
      await store.close();
    }
  });

  it("keeps the newest event even when it alone is larger than max_bytes", async () => {
    const store = await makeStore({ maxEventBytes: 100 });
    try {
      const { createTask } = makeHarness(store, { t: Date.parse("2030-06-01T00:00:00Z") });
      for (let i = 0; i < 3; i++) await createTask();
      const bounds = await store.eventBounds();
      expect(bounds).toEqual({ oldest_id: bounds.last_id, last_id: 3 });
      expect((await store.readEvents(0, 10)).map((e) => e.id)).toEqual([3]);
    } finally {
      await store.close();
    }
  });
}
