import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveAgentOptions } from "../../src/agent/run.js";
import { normalizeConfig } from "../../src/config/normalize.js";

function config(doc: unknown) {
  const problems: string[] = [];
  const c = normalizeConfig(doc, {}, problems);
  return { c, problems };
}

describe("coordination.agent config", () => {
  it("has defaults that run `multiclaude work --repo <repo> <description>` and `multiclaude worker rm --repo <repo> <worker>`", () => {
    const { c, problems } = config({});
    expect(problems).toEqual([]);
    expect(c.coordination.agent).toEqual({
      command: ["multiclaude", "work", "--repo", "{repo}", "{description}"],
      // Without --repo, worker rm fails outside a repo dir (recorded transcript 063).
      stop_command: ["multiclaude", "worker", "rm", "--repo", "{repo}", "{worker}"],
      repos: {},
      multiclaude_home: undefined,
      grace_period_ms: 300_000,
      claim_wait_ms: 30_000,
      heartbeat_interval_ms: undefined,
      check_interval_ms: 2_000,
    });
  });

  it("reads commands as lists or strings, the repo map and durations", () => {
    const { c, problems } = config({
      coordination: {
        agent: {
          command: ["/opt/mc/multiclaude", "work", "--repo", "{repo}", "{description}"],
          stop_command: "multiclaude worker rm {worker}",
          repos: { app: "acme-app" },
          multiclaude_home: "/srv/mc",
          grace_period: "90s",
          claim_wait: "1m",
          heartbeat_interval: "10s",
          check_interval: "500ms",
        },
      },
    });
    expect(problems).toEqual([]);
    expect(c.coordination.agent).toMatchObject({
      command: ["/opt/mc/multiclaude", "work", "--repo", "{repo}", "{description}"],
      stop_command: ["multiclaude", "worker", "rm", "{worker}"],
      repos: { app: "acme-app" },
      multiclaude_home: "/srv/mc",
      grace_period_ms: 90_000,
      claim_wait_ms: 60_000,
      heartbeat_interval_ms: 10_000,
      check_interval_ms: 500,
    });
  });

  it("names each bad key", () => {
    const { problems } = config({ coordination: { agent: { command: [], claim_wait: "10m", grace: "1s", repos: ["x"] } } });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^coordination\.agent\.grace: unknown key/),
        expect.stringMatching(/^coordination\.agent\.command: /),
        expect.stringMatching(/^coordination\.agent\.claim_wait: /),
        expect.stringMatching(/^coordination\.agent\.repos: /),
      ]),
    );
  });
});

describe("resolveAgentOptions", () => {
  it("layers flags over the config over defaults", () => {
    const { c } = config({ coordination: { node_id: "machine-b", labels: { pool: "gpu" }, max_workers: 5, agent: { repos: { app: "acme-app", lib: "lib2" } } } });
    const fromConfig = resolveAgentOptions(c.coordination, {}, { HOME: "/home/ci" });
    expect(fromConfig).toMatchObject({
      nodeId: "machine-b",
      labels: { pool: "gpu" },
      maxWorkers: 5,
      multiclaudeHome: join("/home/ci", ".multiclaude"),
      repos: { app: "acme-app", lib: "lib2" },
      claimWaitMs: 30_000,
    });
    const fromFlags = resolveAgentOptions(
      c.coordination,
      { nodeId: "x", labels: { pool: "cpu" }, maxWorkers: 2, repos: { lib: "libx" }, multiclaudeHome: "/mc", claimWaitMs: 999_000, gracePeriodMs: 1000 },
      {},
    );
    expect(fromFlags).toMatchObject({ nodeId: "x", labels: { pool: "cpu" }, maxWorkers: 2, repos: { app: "acme-app", lib: "libx" }, multiclaudeHome: "/mc", claimWaitMs: 300_000, gracePeriodMs: 1000 });
  });

  it("defaults the node id to the hostname and capacity to 1", () => {
    const { c } = config({});
    expect(resolveAgentOptions(c.coordination, {}, {})).toMatchObject({ nodeId: hostname(), maxWorkers: 1, labels: {} });
  });
});
