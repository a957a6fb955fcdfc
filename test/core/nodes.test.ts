/**
 * `isRepeatHeartbeat` decides whether a heartbeat is written at all: a false "repeat" would lose
 * a change of the node's report, a false "changed" costs a write. It compares field by field
 * (`sameJson`), which must say what comparing the two records' JSON texts said.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRepeatHeartbeat, sameJson } from "../../src/core/nodes.js";
import type { NodeRecord } from "../../src/core/types.js";

/** JSON text with object keys sorted: equal for the same JSON value whatever the key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

function node(over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id: "n1",
    hostname: "n1",
    capacity: { max_workers: 2, current_workers: 1 },
    labels: { gpu: "true" },
    status: "online",
    health: "healthy",
    registered_at: "2026-01-01T00:00:00.000Z",
    last_seen: "2026-01-01T00:00:00.000Z",
    agents: [{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature" }],
    metrics: { cpu_percent: 45.2 },
    repos: [{ name: "acme/api", active_prs: 1 }],
    claimed_tasks: ["t1"],
    registration_id: "reg-1",
    cancelled_tasks: [],
    owner: "tok",
    ...over,
  } as NodeRecord;
}

describe("sameJson", () => {
  it("agrees with comparing canonical JSON texts, for any two JSON values and for a value and its copy", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(sameJson(a, b)).toBe(canonical(a) === canonical(b));
        expect(sameJson(a, structuredClone(a))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("tells apart what JSON tells apart: arrays from objects, lengths, order in arrays, null from absent", () => {
    expect(sameJson([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson([1], [1, 1])).toBe(false);
    expect(sameJson({ a: null }, {})).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJson({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameJson({ a: { b: [1, { c: "x" }] } }, { a: { b: [1, { c: "y" }] } })).toBe(false);
    expect(sameJson("1", 1)).toBe(false);
  });

  it("counts an undefined field as absent and ignores key order, as the JSON of the records does", () => {
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { b: undefined, a: 1 })).toBe(true);
    expect(sameJson({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
  });
});

describe("isRepeatHeartbeat", () => {
  it("is a repeat when only last_seen differs and the stored one is within the window", () => {
    expect(isRepeatHeartbeat(node(), node({ last_seen: "2026-01-01T00:00:05.000Z" }), T0 + 5000, 15_000)).toBe(true);
  });

  it("is not a repeat once the stored last_seen is as old as the window", () => {
    expect(isRepeatHeartbeat(node(), node({ last_seen: "2026-01-01T00:00:15.000Z" }), T0 + 15_000, 15_000)).toBe(false);
  });

  it("is not a repeat when any other field changed, however deep", () => {
    const changes: Partial<NodeRecord>[] = [
      { health: "degraded" },
      { status: "offline" },
      { capacity: { max_workers: 2, current_workers: 2 } },
      { agents: [] },
      { agents: [{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature!" }] },
      { metrics: { cpu_percent: 45.3 } },
      { metrics: { cpu_percent: 45.2, memory_percent: 1 } },
      { repos: [{ name: "acme/api", active_prs: 2 }] },
      { cancelled_tasks: [{ task_id: "t9", cancelled_at: "2026-01-01T00:00:00.000Z" }] },
      { report_truncated: true },
      { cordoned: true },
    ];
    for (const change of changes) expect(isRepeatHeartbeat(node(), node(change), T0 + 1000, 15_000), JSON.stringify(change)).toBe(false);
  });

  it("a field removed (report_truncated deleted once the report fits again) is a change", () => {
    const before = node({ report_truncated: true });
    const after = node();
    expect(isRepeatHeartbeat(before, after, T0 + 1000, 15_000)).toBe(false);
  });
});
