/**
 * The HTTP series are counted by our own code (src/server/http-metrics.ts, cheaper per request
 * than prom-client's label hashing) but must read exactly as prom-client's Counter and Histogram
 * would write them: dashboards and alerts query these names, labels and buckets.
 */
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createHttpMetrics } from "../../src/server/http-metrics.js";

const BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30];
const REQUESTS = { name: "mcc_http_requests_total", help: "HTTP requests by route and status" };
const DURATION = { name: "mcc_http_request_duration_seconds", help: "HTTP request duration (long polls included)" };

/** The exposition's lines, sorted: prom-client and we may list label sets in another order. */
const lines = async (registry: Registry) => (await registry.metrics()).split("\n").filter(Boolean).sort();

function both() {
  const theirs = new Registry();
  const counter = new Counter({ ...REQUESTS, labelNames: ["method", "route", "status"], registers: [theirs] });
  const histogram = new Histogram({ ...DURATION, labelNames: ["method", "route"], buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const observe = createHttpMetrics({ registry: ours, requests: REQUESTS, duration: { ...DURATION, buckets: BUCKETS } });
  return {
    theirs,
    ours,
    record(method: string, route: string, status: number, seconds: number) {
      counter.inc({ method, route, status: String(status) });
      histogram.observe({ method, route }, seconds);
      observe(method, route, status, seconds);
    },
  };
}

describe("HTTP request metrics", () => {
  it("read as prom-client's Counter and Histogram for the same requests (bounds included)", async () => {
    const routes = ["/api/v1/heartbeat", "/api/v1/tasks", "/api/v1/tasks/:id", "unmatched"];
    const request = fc.record({
      method: fc.constantFrom("GET", "POST", "DELETE"),
      route: fc.constantFrom(...routes),
      status: fc.constantFrom(200, 201, 400, 404, 429, 503),
      seconds: fc.oneof(fc.constantFrom(...BUCKETS, 0, 31), fc.double({ min: 0, max: 40, noNaN: true })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 60 }), async (requests) => {
        const m = both();
        for (const r of requests) m.record(r.method, r.route, r.status, r.seconds);
        expect(await lines(m.ours)).toEqual(await lines(m.theirs));
      }),
      { numRuns: 100 },
    );
  });

  it("resetting the registry starts both series again, as prom-client's do", async () => {
    const m = both();
    m.record("GET", "/api/v1/tasks", 200, 0.003);
    m.theirs.resetMetrics();
    m.ours.resetMetrics();
    expect(await lines(m.ours)).toEqual(await lines(m.theirs));
    m.record("POST", "/api/v1/tasks", 201, 0.2);
    expect(await lines(m.ours)).toEqual(await lines(m.theirs));
  });
});
