import { describe, expect, it } from "vitest";
import type { WriteSet } from "../../src/store/buffered-tx.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createSerialTransact } from "../../src/store/serial-transact.js";

describe("createSerialTransact", () => {
  function setup() {
    const commits: WriteSet[] = [];
    let lastId = 0;
    const { transact, onEvents } = createSerialTransact({
      reads: createMemoryStore(), // an empty store: every read finds nothing
      commit(ws) {
        commits.push(ws);
        return ws.events.map((e) => ({ id: ++lastId, type: e.type, data: e.data }));
      },
    });
    const seen: number[] = [];
    onEvents((batch) => seen.push(...batch.map((e) => e.id)));
    return { transact, commits, seen };
  }

  it("commits nothing for a transaction that wrote nothing (a claim that found no task)", async () => {
    const { transact, commits, seen } = setup();
    const found = await transact(async (tx) => (await tx.listPending({ limit: 1 }))[0] ?? null);
    expect(found).toBeNull();
    expect(commits).toHaveLength(0);
    expect(seen).toEqual([]);
  });

  it("commits writes and events once, and hands the events to the listeners", async () => {
    const { transact, commits, seen } = setup();
    await transact(async (tx) => tx.emit({ type: "task.created", data: { ts: "t" } }));
    await transact(async () => undefined);
    expect(commits).toHaveLength(1);
    expect(seen).toEqual([1]);
  });

  it("runs transactions one at a time, in call order", async () => {
    const { transact } = setup();
    const order: string[] = [];
    await Promise.all(
      ["a", "b", "c"].map((name, i) =>
        transact(async () => {
          order.push(`${name}+`);
          await new Promise((r) => setTimeout(r, 10 - i * 4));
          order.push(`${name}-`);
        }),
      ),
    );
    expect(order).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"]);
  });
});
