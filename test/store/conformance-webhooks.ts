import { expect, it } from "vitest";
import { createCursorLease, newCursor } from "../../src/webhooks/lease.js";
import type { Harness } from "./conformance-harness.js";

const fresh = (name: string, position = 0) => newCursor(name, position);

/** Webhook cursors (DESIGN §12): compare-and-set by version, and the delivery lease built on it. */
export function webhookCursorSpecs(h: () => Harness): void {
  it("keeps a cursor whole and writes it only over the version read", async () => {
    const { store } = h();
    expect(await store.getWebhookCursor("slack")).toBeUndefined();
    const first = await store.putWebhookCursor({ ...fresh("slack", 7), last_error: "HTTP 500: nope" }, 0);
    expect(first).toMatchObject({ name: "slack", version: 1, position: 7, last_error: "HTTP 500: nope" });
    expect(await store.getWebhookCursor("slack")).toEqual(first);
    // Creating again, or writing over a version that is gone, changes nothing.
    expect(await store.putWebhookCursor(fresh("slack", 99), 0)).toBeUndefined();
    const second = await store.putWebhookCursor({ ...fresh("slack", 8), delivered: 1, last_delivery_at: "2030-01-01T00:00:00.000Z" }, 1);
    expect(second).toMatchObject({ version: 2, position: 8, delivered: 1 });
    expect(await store.putWebhookCursor(fresh("slack", 99), 1)).toBeUndefined();
    expect(await store.getWebhookCursor("slack")).toEqual(second);
    // Other names are other records.
    expect(await store.getWebhookCursor("other")).toBeUndefined();
    expect(await store.deleteWebhookCursor("slack", 1)).toBe(false);
    expect(await store.deleteWebhookCursor("slack", 2)).toBe(true);
    expect(await store.getWebhookCursor("slack")).toBeUndefined();
  });

  it("lets exactly one of two racing writers of the same version win", async () => {
    const { store } = h();
    const results = await Promise.all([store.putWebhookCursor(fresh("w", 1), 0), store.putWebhookCursor(fresh("w", 2), 0)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const v1 = (await store.getWebhookCursor("w"))!;
    const again = await Promise.all([1, 2, 3].map((p) => store.putWebhookCursor(fresh("w", 10 + p), v1.version)));
    expect(again.filter(Boolean)).toHaveLength(1);
    expect((await store.getWebhookCursor("w"))!.version).toBe(2);
  });

  it("gives the delivery lease to one of two contenders, and to the other only once it ran out", async () => {
    const { store, now, advance } = h();
    const contender = (owner: string) =>
      createCursorLease({ store, name: "hook", owner, leaseMs: 15_000, now, startPosition: async () => 42 });
    const a = contender("replica-a");
    const b = contender("replica-b");
    const [ca, cb] = await Promise.all([a.acquire(), b.acquire()]);
    expect([ca, cb].filter(Boolean)).toHaveLength(1);
    const [winner, loser] = ca ? [a, b] : [b, a];
    const winnerName = ca ? "replica-a" : "replica-b";
    expect((await store.getWebhookCursor("hook"))!).toMatchObject({ owner: winnerName, position: 42 });
    // Renewing keeps it; the other keeps being refused.
    advance(10_000);
    expect(await winner.save({ position: 43 })).toBe(true);
    advance(10_000);
    expect(await loser.acquire()).toBeUndefined();
    // The holder stops renewing (it died): after the lease the other takes over where it was.
    advance(15_001);
    const taken = await loser.acquire();
    expect(taken).toMatchObject({ position: 43, owner: ca ? "replica-b" : "replica-a" });
    // The old holder's next write fails: it must stop (at most its in-flight event is sent twice).
    expect(await winner.save({ position: 44 })).toBe(false);
    expect((await store.getWebhookCursor("hook"))!.position).toBe(43);
    // Released at once, the lease is free for the other without waiting.
    await loser.release();
    expect(await winner.acquire()).toMatchObject({ position: 43, owner: winnerName });
  });
}
