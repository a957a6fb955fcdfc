import { expect } from "vitest";
import { createCoordinator, type Coordinator, type CreateTaskInput, type RegisterInput } from "../../src/coordinator/index.js";
import type { ErrorCode } from "../../src/core/errors.js";
import type { CoordEvent, Labels, Task } from "../../src/core/types.js";
import type { Store, StoreOptions } from "../../src/store/types.js";

/** Opens a fresh, empty store of the backend under test. */
export type MakeStore = (options: StoreOptions) => Promise<Store>;

export const CLAIM_TIMEOUT_MS = 60_000;
export const OFFLINE_THRESHOLD_MS = 90_000;

/** A coordinator over the store under test, with a clock the test moves by hand. */
export interface Harness {
  store: Store;
  coord: Coordinator;
  now(): number;
  advance(ms: number): void;
  /** Registers a node (capacity 10 unless given) and returns its registration id. */
  register(nodeId: string, input?: Partial<RegisterInput> & { labels?: Labels; maxWorkers?: number }): Promise<string>;
  createTask(input?: Partial<CreateTaskInput>): Promise<Task>;
  /** The whole retained log. */
  allEvents(): Promise<CoordEvent[]>;
}

export function makeHarness(store: Store, clock: { t: number }): Harness {
  const coord = createCoordinator({
    store,
    clock: () => clock.t,
    claimTimeoutMs: CLAIM_TIMEOUT_MS,
    offlineThresholdMs: OFFLINE_THRESHOLD_MS,
  });
  return {
    store,
    coord,
    now: () => clock.t,
    advance(ms) {
      clock.t += ms;
    },
    async register(nodeId, input = {}) {
      const { maxWorkers, ...rest } = input;
      const res = await coord.nodes.register({
        node_id: nodeId,
        hostname: `${nodeId}.example.com`,
        capacity: { max_workers: maxWorkers ?? 10 },
        ...rest,
      });
      return res.registration_id;
    },
    async createTask(input = {}) {
      // One fake millisecond per task, so creation order is unambiguous.
      clock.t += 1;
      const { task } = await coord.tasks.create({ repo: "acme/app", description: "do the thing", ...input });
      return task;
    },
    async allEvents() {
      const out: CoordEvent[] = [];
      for (let after = 0; ; ) {
        const batch = await store.readEvents(after, 500);
        if (batch.length === 0) return out;
        out.push(...batch);
        after = batch[batch.length - 1]!.id;
      }
    },
  };
}

/** Asserts that `p` rejects with a CoordError of `code`, and returns the error. */
export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<{ code: string; details: Record<string, unknown> }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toMatchObject({ code });
  return err as { code: string; details: Record<string, unknown> };
}

/** The types of `events`, for compact assertions. */
export const typesOf = (events: CoordEvent[]) => events.map((e) => e.type);

/** Waits until `check` passes (for deliveries that cross a network hop), or fails with its last error. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
