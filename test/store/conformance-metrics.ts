import { expect, it } from "vitest";
import { idTime } from "../../src/core/ids.js";
import type { Harness } from "./conformance-harness.js";

/** What /metrics reads from a store (issue 12): claimable tasks grouped by repo and label set. */
export function metricSpecs(h: () => Harness): void {
  it("groups claimable tasks (pending and orphaned) by repo and label set, with each group's oldest task", async () => {
    const { createTask, register, coord, store, advance } = h();
    expect(await store.pendingBuckets()).toEqual([]);
    const a1 = await createTask({ repo: "alpha", priority: "low" });
    await createTask({ repo: "alpha", priority: "critical" });
    const g1 = await createTask({ repo: "alpha", labels: { pool: "gpu", region: "us" }, priority: "high" });
    await createTask({ repo: "alpha", labels: { region: "us", pool: "gpu" } });
    const b1 = await createTask({ repo: "beta" });
    const b2 = await createTask({ repo: "beta" });
    // A claimed task leaves its group; one whose lease ran out (orphaned) is claimable again.
    const reg = await register("n1", { labels: { pool: "gpu", region: "us" } });
    await coord.tasks.claim(b1.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.claim(b2.id, { registration_id: reg, worker_name: "w" });
    await coord.tasks.complete(b2.id, { registration_id: reg });
    advance(coord.context.claimTimeoutMs + 1);
    await coord.sweep();
    expect((await coord.tasks.get(b1.id)).status).toBe("orphaned");

    const groups = (await store.pendingBuckets()).sort((x, y) => x.repo.localeCompare(y.repo) || Object.keys(x.labels).length - Object.keys(y.labels).length);
    expect(groups.map((g) => ({ ...g, labels: Object.fromEntries(Object.entries(g.labels).sort()) }))).toEqual([
      { repo: "alpha", labels: {}, count: 2, oldest_id: a1.id },
      { repo: "alpha", labels: { pool: "gpu", region: "us" }, count: 2, oldest_id: g1.id },
      { repo: "beta", labels: {}, count: 1, oldest_id: b1.id },
    ]);
    expect(idTime(a1.id)).toBeGreaterThanOrEqual(Date.parse(a1.created_at));
  });
}
