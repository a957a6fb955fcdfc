import { describe, expect, it } from "vitest";
import { capReport, cutText, MAX_REPORT_BYTES } from "../../src/core/report.js";

const worst = (i: number) => ({
  name: `a${i}`.padEnd(128, "n"),
  // Free-form fields at their schema bounds, with characters JSON escapes to 6 bytes each.
  type: "\u0001".repeat(64),
  status: "\u0002".repeat(64),
  task: '"'.repeat(4096),
  repo: "r".repeat(128),
  task_id: "t".repeat(128),
});

describe("capReport", () => {
  it("cuts text on character boundaries and marks the cut", () => {
    expect(cutText("short", 1024)).toBe("short");
    const cut = cutText("😀".repeat(600), 1024);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut.slice(0, -1)).toBe("😀".repeat((1024 - 3) >> 2));
  });

  it("keeps any report of up to 16 agents and repos within 64 KiB without measuring it", () => {
    const metrics = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`metric_${i}`.padEnd(64, "m"), -1.234567890123456e-300]));
    const out = capReport({ agents: Array.from({ length: 16 }, (_, i) => worst(i)), metrics, repos: [] });
    expect(Buffer.byteLength(JSON.stringify({ agents: out.agents, metrics: out.metrics, repos: out.repos }))).toBeLessThanOrEqual(MAX_REPORT_BYTES);
    expect(out.agents).toHaveLength(16);
    expect(out.truncated).toBe(true);
  });

  it("bounds a report of many worst-case agents and repos", () => {
    const repos = Array.from({ length: 256 }, (_, i) => ({ name: `r${i}`.padEnd(128, "r"), active_prs: 1_000_000 }));
    const out = capReport({ agents: Array.from({ length: 256 }, (_, i) => worst(i)), metrics: {}, repos });
    expect(Buffer.byteLength(JSON.stringify({ agents: out.agents, metrics: out.metrics, repos: out.repos }))).toBeLessThanOrEqual(MAX_REPORT_BYTES);
    expect(out.agents[0]!.name).toBe(worst(0).name);
    expect(out.repos.length).toBeGreaterThan(0);
    expect(capReport({ agents: [], metrics: { cpu_percent: 1 }, repos: [] }).truncated).toBe(false);
  });
});
