import { describe, expect, it } from "vitest";
import { createTask } from "../../src/core/tasks.js";
import type { Task } from "../../src/core/types.js";
import type { WriteSet } from "../../src/store/buffered-tx.js";
import { createGroupTransact } from "../../src/store/group-transact.js";
import { createMemoryStore } from "../../src/store/memory.js";

function task(id: string, description = "v1"): Task {
  return createTask(id, { repo: "acme/app", description, priority: "medium", labels: {}, max_attempts: 3, idempotency_key: null }, "2030-01-01T00:00:00.000Z").task;
}

describe("createGroupTransact", () => {
  function setup(options: { maxBatch?: number; failCommit?: () => boolean } = {}) {
    const log: string[] = [];
    const commits: WriteSet[] = [];
    let lastId = 0;
    const group = createGroupTransact({
      reads: createMemoryStore(), // an empty store: every read finds nothing
      maxBatch: options.maxBatch,
      commit(ws) {
        if (options.failCommit?.()) throw new Error("disk full");
        commits.push(ws);
        log.push(`commit ${ws.events.length}`);
        return ws.events.map((e) => ({ id: ++lastId, type: e.type, data: e.data }));
      },
    });
    const batches: number[][] = [];
    group.onEvents((batch) => {
      batches.push(batch.map((e) => e.id));
      log.push(`events ${batch.map((e) => e.id).join(",")}`);
    });
    return { ...group, commits, batches, log };
  }

  const emit = (n: number) => ({ type: "task.created" as const, data: { ts: `t${n}` } });

  it("commits transactions queued together as one batch, each reading the writes of the earlier ones, answered only after the commit", async () => {
    const { transact, commits, batches, log } = setup();
    const seen: (string | undefined)[] = [];
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        transact(async (tx) => {
          const before = await tx.getTask("task-a");
          seen.push(before?.description);
          tx.putTask(task("task-a", `v${i}`));
          tx.emit(emit(i));
          return i;
        }).then((r) => {
          log.push(`answer ${r}`);
          return r;
        }),
      ),
    );
    expect(results).toEqual([1, 2, 3]);
    expect(seen).toEqual([undefined, "v1", "v2"]);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.tasks.get("task-a")?.description).toBe("v3");
    expect(commits[0]!.events.map((e) => e.data.ts)).toEqual(["t1", "t2", "t3"]);
    // Events come out once, in id order, and nobody is answered before the commit.
    expect(batches).toEqual([[1, 2, 3]]);
    expect(log).toEqual(["commit 3", "events 1,2,3", "answer 1", "answer 2", "answer 3"]);
  });

  it("a transaction that throws in the middle of a batch contributes nothing and takes nobody else down", async () => {
    const { transact, commits, batches } = setup();
    const seen: (string | undefined)[] = [];
    const results = await Promise.allSettled([
      transact(async (tx) => {
        tx.putTask(task("task-a", "first"));
        tx.emit(emit(1));
      }),
      transact(async (tx) => {
        tx.putTask(task("task-a", "broken"));
        tx.putTask(task("task-b", "broken"));
        tx.emit(emit(2));
        throw new Error("rule violated");
      }),
      transact(async (tx) => {
        seen.push((await tx.getTask("task-a"))?.description, (await tx.getTask("task-b"))?.description);
        tx.emit(emit(3));
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: "rule violated" });
    expect(seen).toEqual(["first", undefined]);
    expect(commits).toHaveLength(1);
    expect([...commits[0]!.tasks.keys()]).toEqual(["task-a"]);
    expect(commits[0]!.events.map((e) => e.data.ts)).toEqual(["t1", "t3"]);
    expect(batches).toEqual([[1, 2]]);
  });

  it("rejects every transaction of a batch whose commit fails, emits nothing, and goes on with the next batch", async () => {
    let fail = true;
    const { transact, commits, batches } = setup({ failCommit: () => fail });
    const results = await Promise.allSettled([
      transact(async (tx) => tx.emit(emit(1))),
      transact(async () => "read only"),
      transact(async (tx) => tx.emit(emit(2))),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(results.map((r) => (r as PromiseRejectedResult).reason.message)).toEqual(["disk full", "disk full", "disk full"]);
    expect(batches).toEqual([]);
    fail = false;
    await transact(async (tx) => tx.emit(emit(3)));
    expect(commits).toHaveLength(1);
    expect(batches).toEqual([[1]]);
  });

  it("gives a refusal only after its batch committed: a refusal resting on a write that failed to commit is not given", async () => {
    const { transact, log } = setup({ failCommit: () => true });
    const claim = transact(async (tx) => {
      tx.putTask(task("task-1"));
      return "claimed";
    });
    const refused = transact(async (tx) => {
      if (await tx.getTask("task-1")) throw new Error("TASK_CLAIMED");
      return "free";
    }).catch((err: Error) => {
      log.push(`refusal answered: ${err.message}`);
      return err.message;
    });
    await expect(claim).rejects.toThrow("disk full");
    // The refusal saw task-1 only in the batch; that write never committed, so the caller gets the commit's failure.
    expect(await refused).toBe("disk full");
  });

  it("caps a batch at maxBatch transactions and commits nothing for a batch that wrote nothing", async () => {
    const { transact, commits, batches } = setup({ maxBatch: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => transact(async (tx) => tx.emit(emit(i)))));
    expect(commits.map((c) => c.events.length)).toEqual([2, 2, 1]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(await Promise.all([transact(async () => 1), transact(async () => 2)])).toEqual([1, 2]);
    expect(commits).toHaveLength(3);
  });

  it("runs a serial step alone, between the batches queued before and after it", async () => {
    const { transact, serial, log } = setup();
    const done = Promise.all([
      transact(async (tx) => tx.emit(emit(1))),
      serial(async () => {
        log.push("step");
        await new Promise((r) => setTimeout(r, 5));
        log.push("step done");
      }),
      transact(async (tx) => tx.emit(emit(2))),
      transact(async (tx) => tx.emit(emit(3))),
    ]);
    await done;
    expect(log).toEqual(["commit 1", "events 1", "step", "step done", "commit 2", "events 2,3"]);
  });

  it("starts a batch at once when the store was idle, and on the next turn of the event loop when it was busy", async () => {
    const { transact } = setup({});
    const turnsBefore = async (work: () => Promise<unknown>) => {
      let turned = false;
      setImmediate(() => (turned = true));
      await work();
      return turned;
    };
    await new Promise((r) => setTimeout(r, 5));
    expect(await turnsBefore(() => transact(async (tx) => tx.emit(emit(1))))).toBe(false);
    expect(await turnsBefore(() => transact(async (tx) => tx.emit(emit(2))))).toBe(true);
  });

  it("runs each fn to its end before the next starts, even across awaits", async () => {
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
