import { describe, expect, it } from "vitest";
import type { ConcurrencyGroup } from "../../src/core/concurrency.js";
import { PendingIndex } from "../../src/store/pending-index.js";

/**
 * The pending index with many concurrency keys (issue 15): a claim tests the room of the groups
 * it reaches in claim order, not of every group, so per-tenant keys (one key per task) cost
 * nothing beyond the tasks a claim walks. Counted in room tests, which the SQLite store answers
 * with one SQL count each.
 */
describe("PendingIndex with many concurrency keys", () => {
  const id = (n: number) => `task-${String(n).padStart(20, "0")}`;

  function filled(keys: number) {
    const index = new PendingIndex();
    for (let i = 0; i < keys; i++) index.addEntry("acme/app", "", {}, 2, id(i), { key: `svc-${i}`, limit: 1 });
    return index;
  }

  it("a claim with 2,000 keys, each with room, tests one group", () => {
    const index = filled(2000);
    const tested: string[] = [];
    const room = (g: ConcurrencyGroup) => (tested.push(g.key), true);
    expect(index.query({}, undefined, 1, room)).toEqual([id(0)]);
    expect(tested).toEqual(["svc-0"]);
  });

  it("full keys ahead cost one test each; the keys behind the window none", () => {
    const index = filled(2000);
    const tested: string[] = [];
    const full = new Set(["svc-0", "svc-1", "svc-2"]);
    const room = (g: ConcurrencyGroup) => (tested.push(g.key), !full.has(g.key));
    expect(index.query({}, undefined, 2, room)).toEqual([id(3), id(4)]);
    expect(tested).toEqual(["svc-0", "svc-1", "svc-2", "svc-3", "svc-4"]);
  });

  it("a group's tasks follow its head in claim order, and a better task of the group becomes its head", () => {
    const index = new PendingIndex();
    const g = { key: "K", limit: 2 };
    index.addEntry("r", "", {}, 2, id(1), g);
    index.addEntry("r", "", {}, 2, id(2));
    index.addEntry("r", "", {}, 2, id(3), g);
    index.addEntry("r", "", {}, 0, id(9), g); // critical: the group's new head
    expect(index.query(undefined, undefined, 10)).toEqual([id(9), id(1), id(2), id(3)]);
    expect(index.query(undefined, undefined, 10, () => false)).toEqual([id(2)]);
    index.removeEntry("r", "", 0, id(9));
    index.removeEntry("r", "", 2, id(1));
    expect(index.query(undefined, undefined, 10)).toEqual([id(2), id(3)]);
    expect(index.count).toBe(2);
    expect(index.summary()).toEqual([{ repo: "r", labels: {}, count: 2, oldest_id: id(2) }]);
    index.removeEntry("r", "", 2, id(3));
    index.removeEntry("r", "", 2, id(2));
    expect(index.count).toBe(0);
    expect(index.summary()).toEqual([]);
  });
});
