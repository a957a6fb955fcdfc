import { afterEach, beforeEach, describe } from "vitest";
import type { Store } from "../../src/store/types.js";
import { agentClaimSpecs } from "./conformance-agent-claims.js";
import { batchSpecs } from "./conformance-batch.js";
import { claimSpecs } from "./conformance-claims.js";
import { backoffSpecs, concurrencySpecs } from "./conformance-concurrency.js";
import { dependencySpecs } from "./conformance-dependencies.js";
import { settleSpecs } from "./conformance-dependents-settle.js";
import { eventBoundSpecs } from "./conformance-event-bounds.js";
import { eventSpecs } from "./conformance-events.js";
import { makeHarness, type Harness, type MakeStore } from "./conformance-harness.js";
import { identitySpecs } from "./conformance-identity.js";
import { lifecycleSpecs } from "./conformance-lifecycle.js";
import { metricSpecs } from "./conformance-metrics.js";
import { retentionSpecs } from "./conformance-retention.js";
import { sessionSpecs } from "./conformance-sessions.js";
import { webhookCursorSpecs } from "./conformance-webhooks.js";
import { scheduleSpecs, workflowSpecs } from "./conformance-workflow.js";

export type { MakeStore } from "./conformance-harness.js";

/**
 * The store conformance suite: every rule of DESIGN §4 that a store can affect, checked through
 * the real coordinator (with a clock the tests move) over a fresh store from `makeStore` per test.
 * Every backend runs this one suite, so they cannot drift apart.
 */
export function describeStoreConformance(name: string, makeStore: MakeStore): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store | undefined;
    let harness: Harness | undefined;

    beforeEach(async () => {
      store = await makeStore({});
      harness = makeHarness(store, { t: Date.parse("2030-01-01T00:00:00Z") });
    });

    afterEach(async () => {
      await harness?.coord.stop();
      await store?.close();
      store = harness = undefined;
    });

    const h = (): Harness => harness!;
    describe("claims", () => claimSpecs(h));
    describe("agent claims: repos, cooldown, branch", () => agentClaimSpecs(h));
    describe("lifecycle", () => lifecycleSpecs(h));
    describe("events, messages, state", () => eventSpecs(h, makeStore));
    describe("node identity", () => identitySpecs(h));
    describe("event log bounds", () => eventBoundSpecs(h, makeStore));
    describe("retention and paging", () => retentionSpecs(h));
    describe("metrics reads", () => metricSpecs(h));
    describe("webhook cursors and leases", () => webhookCursorSpecs(h));
    describe("dashboard sessions", () => sessionSpecs(h));
    describe("workflow: cordon, retry", () => workflowSpecs(h));
    describe("workflow: not_before", () => scheduleSpecs(h));
    describe("workflow: concurrency keys", () => concurrencySpecs(h));
    describe("workflow: retry backoff", () => backoffSpecs(h));
    describe("workflow: depends_on", () => dependencySpecs(h));
    describe("workflow: settling dependents after an end", () => settleSpecs(h));
    describe("batch create", () => batchSpecs(h));
  });
}
