import { describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/coordinator/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { describeStoreConformance } from "./conformance.js";

describeStoreConformance("memory", async (options) => createMemoryStore(options));

describe("memory store event retention", () => {
  it("keeps exactly the last `retention` events visible", async () => {
    const store = createMemoryStore({ retention: 5 });
    const coordinator = createCoordinator({ store });
    for (let i = 0; i < 12; i++) await coordinator.tasks.create({ repo: "r", description: `t${i}` });
    expect(await store.eventBounds()).toEqual({ oldest_id: 8, last_id: 12 });
    expect((await store.readEvents(0, 100)).map((e) => e.id)).toEqual([8, 9, 10, 11, 12]);
    expect((await store.readEvents(10, 100)).map((e) => e.id)).toEqual([11, 12]);
    for (let i = 0; i < 300; i++) await coordinator.tasks.create({ repo: "r", description: `u${i}` });
    expect((await store.readEvents(0, 100)).map((e) => e.id)).toEqual([308, 309, 310, 311, 312]);
    await coordinator.stop();
  });
});
