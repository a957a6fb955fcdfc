/**
 * `status` shows the PRD's success measures (issue 12): utilisation of the online nodes and the
 * create→claim p50/p99 of the last hour, and `--json` carries the same, from the real binary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli, startServe, tempHome, type CliProcess } from "../cli/harness.js";

let home: string;
let url: string;
let serve: CliProcess;
const cli = (...args: string[]) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url } });

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
}, 120_000);
afterAll(async () => {
  expect(await serve?.stop("SIGTERM")).toBe(0);
});

describe("status and the success measures", () => {
  it("says there were no claims yet, then utilisation 2/5 and the latency after two claims", async () => {
    const before = await cli("status");
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/^create→claim\s+no claims in the last 1h$/m);

    expect((await cli("register", "--node-id", "ci-1", "--max-workers", "5")).code).toBe(0);
    for (const d of ["one", "two", "three"]) expect((await cli("tasks", "create", "--repo", "r", "--description", d)).code).toBe(0);
    for (const w of ["w1", "w2"]) {
      const r = await cli("tasks", "claim", "--next", "--worker", w);
      expect(r.code, r.stderr).toBe(0);
    }

    const human = await cli("status");
    expect(human.stdout).toMatch(/^workers\s+2\/5 busy \(40%\)$/m);
    expect(human.stdout).toMatch(/^create→claim\s+p50 \d+(ms|\.\ds), p99 \d+(ms|\.\ds) \(2 claims in the last 1h\)$/m);

    const json = JSON.parse((await cli("--json", "status")).stdout);
    expect(json.workers).toEqual({ busy: 2, max: 5, utilisation: 0.4 });
    expect(json.claim_latency).toMatchObject({ window_seconds: 3600, count: 2, p50_ms: expect.any(Number), p99_ms: expect.any(Number) });
    expect(json.claim_latency.p99_ms).toBeGreaterThanOrEqual(json.claim_latency.p50_ms);
  });
});
