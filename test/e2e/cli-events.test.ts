import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCuttableProxy } from "../client/server.js";
import { CliProcess, ensureBuilt, runCli, startServe, tempHome } from "../cli/harness.js";

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
});
