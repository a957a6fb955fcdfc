import { expect, it } from "vitest";
import type { SessionRecord } from "../../src/store/types.js";
import type { Harness } from "./conformance-harness.js";

const HOUR = 3_600_000;

function session(id: string, token: string, createdMs: number, lifeMs = 12 * HOUR): SessionRecord {
  return { id, token_key: token, csrf: `csrf-${id}`, created_ms: createdMs, expires_ms: createdMs + lifeMs };
}

/** Dashboard sessions (DESIGN §13): shared by replicas, bounded per token and in all, gone when expired or ended. */
export function sessionSpecs(h: () => Harness): void {
  const limits = { perToken: 3, total: 5 };

  it("keeps a session until it expires or is ended", async () => {
    const { store, now } = h();
    const t = now();
    expect(await store.createSession(session("a", "tok1", t, HOUR), limits, t)).toBe(true);
    expect(await store.getSession("a", t)).toEqual(session("a", "tok1", t, HOUR));
    expect(await store.getSession("b", t)).toBeUndefined();
    expect(await store.getSession("a", t + HOUR)).toBeUndefined();
    expect(await store.createSession(session("c", "tok1", t), limits, t)).toBe(true);
    expect(await store.deleteSession("c")).toBe(true);
    expect(await store.deleteSession("c")).toBe(false);
    expect(await store.getSession("c", t)).toBeUndefined();
  });

  it("ends a token's oldest session when it signs in once more than allowed", async () => {
    const { store, now } = h();
    const t = now();
    for (const [i, id] of ["s1", "s2", "s3", "s4"].entries()) {
      expect(await store.createSession(session(id, "tok", t + i), limits, t + i)).toBe(true);
    }
    expect(await store.getSession("s1", t + 4)).toBeUndefined();
    for (const id of ["s2", "s3", "s4"]) expect(await store.getSession(id, t + 4)).toBeDefined();
    // Another token's sessions are not touched.
    expect(await store.createSession(session("o1", "other", t + 5), limits, t + 5)).toBe(true);
    expect(await store.getSession("s2", t + 5)).toBeDefined();
  });

  it("refuses a session when all are taken, and takes one again once some expired", async () => {
    const { store, now } = h();
    const t = now();
    for (let i = 0; i < 5; i++) expect(await store.createSession(session(`x${i}`, `tok${i}`, t, HOUR), limits, t)).toBe(true);
    expect(await store.createSession(session("late", "tok9", t), limits, t + 1)).toBe(false);
    expect(await store.getSession("late", t + 1)).toBeUndefined();
    expect(await store.createSession(session("later", "tok9", t + HOUR), limits, t + HOUR)).toBe(true);
    expect(await store.getSession("later", t + HOUR)).toBeDefined();
  });

  it("ends every session of the tokens no longer configured, and only those", async () => {
    const { store, now } = h();
    const t = now();
    const wide = { perToken: 3, total: 20 };
    for (const [id, token] of [["k1", "kept"], ["k2", "kept"], ["g1", "gone"], ["g2", "gone"], ["o1", "other"]]) {
      expect(await store.createSession(session(id!, token!, t), wide, t)).toBe(true);
    }
    expect(await store.deleteSessionsExcept(["kept", "never-signed-in"])).toBe(3);
    for (const id of ["g1", "g2", "o1"]) expect(await store.getSession(id, t)).toBeUndefined();
    for (const id of ["k1", "k2"]) expect(await store.getSession(id, t)).toBeDefined();
    expect(await store.deleteSessionsExcept(["kept"])).toBe(0);
    // The ended token signs in afresh within its own bound, unaffected by its old sessions.
    for (const id of ["n1", "n2", "n3"]) expect(await store.createSession(session(id, "gone", t + 1), wide, t + 1)).toBe(true);
    for (const id of ["n1", "n2", "n3"]) expect(await store.getSession(id, t + 1)).toBeDefined();
    expect(await store.deleteSessionsExcept([])).toBe(5);
    expect(await store.getSession("k1", t + 1)).toBeUndefined();
  });
}
