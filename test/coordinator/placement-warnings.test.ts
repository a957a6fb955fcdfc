import { afterEach, describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/coordinator/index.js";
import { createSqliteStore } from "../../src/store/sqlite.js";
import type { Store } from "../../src/store/types.js";

/**
 * `POST /tasks` warns when no online node could take a labelled task. Finding that out must not
 * cost a read of every online node per create: with 10,000 nodes on SQLite that made each
 * labelled create parse 10,000 records (the bench's 100,000-task load took over half an hour).
 */
describe("placement warnings", () => {
  let store: Store;
  afterEach(async () => store?.close());

  it("read one page of nodes when one fits, and warn only when none of them does", async () => {
    store = await createSqliteStore(":memory:");
    let read = 0;
    const counted: Store = { ...store, listNodes: async (q) => ((r) => ((read += r.length), r))(await store.listNodes(q)) };
    const coord = createCoordinator({ store: counted });
    for (let i = 0; i < 300; i++) await coord.nodes.register({ node_id: `n-${String(i).padStart(3, "0")}`, labels: { pool: "gpu" }, capacity: { max_workers: i === 0 ? 0 : 2 } });
    const { task } = await coord.tasks.create({ repo: "r", description: "d", labels: { pool: "gpu" } });
    expect(await coord.tasks.placementWarnings(task)).toEqual([]);
    expect(read).toBeLessThanOrEqual(20);
    const { task: tpu } = await coord.tasks.create({ repo: "r", description: "d", labels: { pool: "tpu" } });
    expect(await coord.tasks.placementWarnings(tpu)).toEqual(["no online node has the labels pool=tpu (and takes work); the task waits until one does"]);
    await coord.stop();
  });
});
