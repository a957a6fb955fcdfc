import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/index.js";
import { startCuttableProxy } from "../client/server.js";
import { CliProcess, ensureBuilt, runCli, startServe, tempHome } from "../cli/harness.js";

let home: string;
let url: string;
let serve: CliProcess;
const cli = (...args: string[]) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url } });

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  // Past the server's 1000 events a request quickly: without the 50 requests/s limit.
  writeFileSync(join(home, "coordination.yaml"), "server:\n  rate_limit:\n    enabled: false\n");
  ({ url, proc: serve } = await startServe(home));
}, 120_000);

afterAll(async () => {
  expect(await serve?.stop("SIGINT")).toBe(0);
});

describe("events", () => {
  it("prints an event another process caused, and stops on Ctrl-C with exit 0", async () => {
    const events = new CliProcess(["events", "--type", "task.*"], { home, env: { MULTICLAUDE_COORD_URL: url } });
    await events.waitFor(/following events from/, "stderr");
    const created = await cli("tasks", "create", "-q", "--repo", "web", "--description", "watch me");
    const id = created.stdout.trim();
    await events.waitFor(new RegExp(`^#\\d+ \\S+ task\\.created task_id=${id} repo=web`, "m"));
    expect(events.stdout).not.toMatch(/node\.registered/);
    expect(await events.stop("SIGINT")).toBe(0);
  });

  it("resumes after a dropped connection without a gap or a duplicate (--json lines)", async () => {
    const proxy = await startCuttableProxy(Number(new URL(url).port));
    try {
      const events = new CliProcess(["--json", "events", "--type", "task.created"], { home, env: { MULTICLAUDE_COORD_URL: proxy.url } });
      await events.waitFor(/following events from/, "stderr");
      const ids: string[] = [];
      ids.push((await cli("tasks", "create", "-q", "--repo", "r", "--description", "one")).stdout.trim());
      await events.waitFor(new RegExp(ids[0]!));
      proxy.cutAll();
      await events.waitFor(/connection lost; reconnecting/, "stderr");
      for (const d of ["two", "three"]) ids.push((await cli("tasks", "create", "-q", "--repo", "r", "--description", d)).stdout.trim());
      await events.waitFor(new RegExp(ids[2]!), "stdout", 20_000);
      expect(events.stderr).toMatch(/reconnected/);
      expect(await events.stop("SIGTERM")).toBe(0);
      const lines = events.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: number; data: { task_id: string } });
      expect(lines.map((l) => l.data.task_id)).toEqual(ids);
      expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length);
    } finally {
      await proxy.close();
    }
  });

  it("--no-follow --limit beyond the server's 1000 a request pages through the log", async () => {
    const token = readFileSync(join(home, ".multiclaude", "coordination-token"), "utf8").trim();
    const client = new Client({ url, token });
    const made: string[] = [];
    try {
      for (let batch = 0; batch < 21; batch++) {
        const tasks = await Promise.all(Array.from({ length: 50 }, (_, i) => client.createTask({ repo: "paged", description: `p${batch * 50 + i}` })));
        made.push(...tasks.map((t) => t.id));
      }
    } finally {
      await client.close();
    }
    const all = await cli("--json", "events", "--no-follow", "--since", "0", "--repo", "paged", "--type", "task.created", "--limit", "1200");
    expect(all.code, all.stderr).toBe(0);
    const events = all.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: number; data: { task_id: string } });
    expect(events.map((e) => e.data.task_id).sort()).toEqual([...made].sort());
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
    const some = await cli("--json", "events", "--no-follow", "--since", "0", "--repo", "paged", "--limit", "1001");
    expect(some.code, some.stderr).toBe(0);
    expect(some.stdout.trim().split("\n")).toHaveLength(1001);
    expect((await cli("events", "--no-follow", "--limit", "10001")).code).toBe(2);
  }, 60_000);

  it("--no-follow from an id newer than the log says so and prints from the oldest event", async () => {
    const r = await cli("--json", "events", "--no-follow", "--since", "99999999", "--limit", "3");
    expect(r.code, r.stderr).toBe(0);
    // It names both causes: this coordinator never restarted, so "it restarted" would be false.
    expect(r.stderr).toMatch(/#99999999 is past the coordinator's last event \(#\d+\): a mistyped id, or the coordinator restarted with a new log; printing from #1/);
    expect(r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([1, 2, 3]);
  });
});
