/**
 * Workers run task text that anyone with a node token can write, so the agent passes them its
 * environment without the coordinator token, under any name: not `MULTICLAUDE_COORD_TOKEN`, not
 * the `COORD_TOKEN` that the config's `token: "${COORD_TOKEN}"` reads, not an alias. Everything
 * else (PATH, HOME, multiclaude's API keys) reaches them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, NODE_TOKEN, removeDirs, startAgent, startServe, tempDir, waitFor, type AgentProc } from "../fixtures/agent-harness.js";

interface EnvDump {
  args: string[];
  env: Record<string, string>;
}

function dumps(file: string): EnvDump[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EnvDump);
  } catch {
    return [];
  }
}

describe("agent worker environment", () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  let agent: AgentProc;
  let dumpFile: string;

  beforeAll(async () => {
    ensureBuilt();
    serve = await startServe({ claimTimeout: "10s", offlineThreshold: "3s" });
    const home = tempDir("home-node-env");
    dumpFile = join(home, "worker-env.jsonl");
    agent = startAgent({
      nodeId: "node-env",
      url: serve.url,
      home,
      mcRepos: ["env-repo"],
      workMs: 60_000,
      noTokenFlag: true,
      config: ["coordination:", '  token: "${COORD_TOKEN}"', ""].join("\n"),
      env: {
        COORD_TOKEN: NODE_TOKEN,
        MULTICLAUDE_COORD_TOKEN: NODE_TOKEN,
        SOME_ALIAS: NODE_TOKEN,
        CURL_AUTH_HEADER: `Authorization: Bearer ${NODE_TOKEN}`,
        ANTHROPIC_API_KEY: "sk-fake-key-for-workers",
        KEEP_ME: "kept",
        FAKE_MC_DUMP_ENV: dumpFile,
      },
    });
    await agent.waitForLog("agent.registered");
  }, 60_000);

  afterAll(async () => {
    agent?.kill("SIGTERM");
    await agent?.exited;
    await serve?.stop();
    if (agent) removeDirs([agent.home]);
  });

  it("runs start and stop commands without the coordinator token, and with everything else", async () => {
    const task = await serve.admin.createTask({ repo: "env-repo", description: "print your environment" });
    const started = await agent.waitForLog("worker.started", (l) => l.task_id === task.id);
    await serve.admin.cancelTask(task.id, { reason: "done looking" });
    await agent.waitForLog("worker.stopped", (l) => l.task_id === task.id);
    const calls = await waitFor(() => {
      const d = dumps(dumpFile);
      return d.some((c) => c.args[0] === "worker" && c.args[1] === "rm") ? d : undefined;
    }, "the stop command's environment");
    expect(calls.map((c) => c.args.slice(0, 2))).toEqual([
      ["work", "--repo"],
      ["worker", "rm"],
    ]);
    expect(calls[1]!.args).toEqual(["worker", "rm", "--repo", "env-repo", started.worker]);
    for (const { env } of calls) {
      expect(Object.entries(env).filter(([, v]) => v.includes(NODE_TOKEN))).toEqual([]);
      expect(env).not.toHaveProperty("MULTICLAUDE_COORD_TOKEN");
      expect(env).not.toHaveProperty("COORD_TOKEN");
      expect(env).not.toHaveProperty("SOME_ALIAS");
      expect(env).not.toHaveProperty("CURL_AUTH_HEADER");
      expect(env).toMatchObject({ KEEP_ME: "kept", ANTHROPIC_API_KEY: "sk-fake-key-for-workers", HOME: agent.home });
      expect(env.PATH).toContain(join("test", "fixtures"));
    }
  });
});
