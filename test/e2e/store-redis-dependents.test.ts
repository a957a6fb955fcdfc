/**
 * Two real `serve` processes on one real `redis-server`: a task's end, sent to one replica while
 * clients on both keep adding and cancelling dependents of it back to back, answers at once and
 * settles every dependent (DESIGN §11; docs/api.md, Settling dependents after an end).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../cli/harness.js";
import { api, cleanupTemp, ok, readAllTasks, startCluster } from "../helpers/cluster.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import type { ServeProcess } from "../helpers/serve-process.js";

// Without redis-server the suite is reported as skipped; in CI a missing server is a failure.
const skip = !findRedisServer() && !process.env.CI;

/** Waiting dependents of the task that ends. */
const FILL = 300;

describe.skipIf(skip)("two serve replicas on one redis-server: dependents churned while their dependency ends", () => {
  let redis: RedisServer | undefined;
  let replicas: ServeProcess[] = [];
  let n = 0;

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedisServer();
  }, 120_000);
  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.stop("SIGKILL")));
    replicas = [];
  });
  afterAll(async () => {
    await redis?.stop();
    cleanupTemp();
  });

  for (const end of ["complete", "cancel"] as const) {
    it(`a ${end} on one replica answers 200 while four clients on both add and cancel dependents of the task, and settles all of them`, async () => {
      replicas = await startCluster(`${redis!.url}?prefix=deps-${++n}:`, 2);
      const [a, b] = replicas.map((r) => r.url);
      const reg = (await ok(a!, "POST", "/register", { node_id: "n1", capacity: { max_workers: 1 } })).registration_id as string;
      const x = (await ok(a!, "POST", "/tasks", { repo: "web", description: "the API" })).id as string;
      const fill = Array.from({ length: FILL }, (_, i) => ({ repo: "web", description: `client ${i}`, depends_on: [x] }));
      await ok(b!, "POST", "/tasks/batch", { tasks: fill });
      await ok(a!, "POST", `/tasks/${x}/claim`, { registration_id: reg, worker_name: "w" });

      let done = false;
      let turns = 0;
      const unexpected: string[] = [];
      const churn = async (base: string) => {
        while (!done) {
          const made = await api(base, "POST", "/tasks", { repo: "web", description: "churn", depends_on: [x] });
          if (made.status !== 201) unexpected.push(`create: ${made.status} ${JSON.stringify(made.body)}`);
          else if (made.body.data.status === "waiting") {
            const cancel = await api(base, "POST", `/tasks/${made.body.data.id}/cancel`);
            // x's end may have settled it first.
            if (cancel.status !== 200 && cancel.body?.code !== "TASK_NOT_CLAIMABLE") unexpected.push(`cancel: ${cancel.status} ${JSON.stringify(cancel.body)}`);
          }
          turns++;
        }
      };
      const clients = Promise.all([a, a, b, b].map((base) => churn(base!)));
      while (turns < 20) await new Promise((r) => setTimeout(r, 10));
      const ended = await (end === "complete" ? api(a!, "POST", `/tasks/${x}/complete`, { registration_id: reg }) : api(a!, "POST", `/tasks/${x}/cancel`));
      done = true;
      await clients;
      expect(ended.status, JSON.stringify(ended.body)).toBe(200);
      expect(unexpected).toEqual([]);
      // Settled before the end answered: nothing of x waits any more, read through the other replica.
      const tasks = await readAllTasks(b!);
      expect(tasks.filter((t) => t.status === "waiting")).toEqual([]);
      const dependents = tasks.filter((t) => t.id !== x && t.description.startsWith("client "));
      expect(dependents).toHaveLength(FILL);
      for (const t of dependents) {
        if (end === "complete") expect(t).toMatchObject({ status: "pending", blocked_by: [] });
        else expect(t).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${x} cancelled` });
      }
    }, 120_000);
  }
});
