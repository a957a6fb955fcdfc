/**
 * Webhooks with real processes (DESIGN §12): a SIGKILLed `serve` on a SQLite file resumes
 * delivery where it was; SIGHUP adds a webhook (starting at the end of the log) and removes one;
 * two replicas on one redis-server deliver each event once, and the survivor takes over.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli } from "../cli/harness.js";
import { cleanupTemp, ok, tempDir, TOKEN } from "../helpers/cluster.js";
import { findRedisServer, startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { spawnServe, type ServeProcess } from "../helpers/serve-process.js";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.js";
import { signBody } from "../../src/webhooks/index.js";
import { eventually } from "../store/conformance-harness.js";

/** A config with the known token and these webhooks (YAML flow maps), fast retries and a short lease. */
function writeConfig(dir: string, hooks: Record<string, unknown>[], leaseSeconds = 2): string {
  const file = join(dir, "coordination.yaml");
  const list = hooks.map((h) => `  - ${JSON.stringify(h)}`).join("\n");
  writeFileSync(
    file,
    `server:\n  auth:\n    tokens: ["${TOKEN}"]\n  rate_limit:\n    enabled: false\n` +
      `  webhooks: { lease: ${leaseSeconds}s, retry_initial: 100ms, retry_max: 400ms }\n` +
      (hooks.length ? `webhooks:\n${list}\n` : ""),
  );
  return file;
}

const serveOn = (store: string, config: string, home: string) => spawnServe(["--listen", "127.0.0.1:0", "--store", store, "--config", config], { home });
const createTask = async (url: string, description: string) => (await ok(url, "POST", "/tasks", { repo: "my-repo", description })).id as string;
const webhooks = async (url: string) => (await ok(url, "GET", "/webhooks")).webhooks as { name: string; lease_owner: string | null; position: number; lag: number; last_status: number | null }[];
/** Ids of the task.created events of these tasks, from the log. */
async function createdIds(url: string, taskIds: string[]): Promise<number[]> {
  const { events } = await ok(url, "GET", "/events?since=0&limit=1000&types=task.created");
  return (events as { id: number; data: { task_id: string } }[]).filter((e) => taskIds.includes(e.data.task_id)).map((e) => e.id);
}

describe("webhooks with real serve processes", () => {
  const procs: ServeProcess[] = [];
  const receivers: Receiver[] = [];
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop("SIGKILL")));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => cleanupTemp());

  it("a receiver down across a SIGKILL of serve (SQLite): after both are back nothing is lost", async () => {
    const dir = tempDir();
    let receiver = await startReceiver();
    receivers.push(receiver);
    const port = receiver.port;
    const config = writeConfig(dir, [{ name: "ci", url: receiver.url, events: ["task.created"], secret: "e2e-secret" }]);
    const store = `sqlite://${join(dir, "c.db")}`;
    const first = await serveOn(store, config, dir);
    procs.push(first);
    await eventually(async () => expect((await webhooks(first.url))[0]!.lease_owner).not.toBeNull(), 15_000);
    const tasks: string[] = [];
    for (let i = 0; i < 5; i++) tasks.push(await createTask(first.url, `up ${i}`));
    await eventually(() => expect(receiver.delivered()).toHaveLength(5), 15_000);
    // The receiver goes away; more events are made; serve is killed while it retries them.
    await receiver.close();
    receivers.splice(0);
    for (let i = 0; i < 5; i++) tasks.push(await createTask(first.url, `down ${i}`));
    await eventually(async () => expect((await ok(first.url, "GET", "/webhooks")).webhooks[0].last_error).toMatch(/ECONNREFUSED|event/), 15_000);
    first.proc.kill("SIGKILL");
    await first.exited;

    receiver = await startReceiver(port);
    receivers.push(receiver);
    const second = await serveOn(store, config, dir);
    procs.push(second);
    const expected = await createdIds(second.url, tasks);
    expect(expected).toHaveLength(10);
    await eventually(() => expect(new Set(receiver.delivered())).toEqual(new Set(expected.slice(5))), 20_000);
    // In order, each once, signed.
    expect(receiver.delivered()).toEqual(expected.slice(5));
    for (const r of receiver.requests) expect(r.headers["x-coord-signature-256"]).toBe(signBody(r.body, "e2e-secret"));
    await eventually(async () => expect((await webhooks(second.url))[0]).toMatchObject({ position: expected[9], lag: 0 }), 10_000);
    // The secret and the URL's query are in no log line and no answer.
    for (const text of [first.stderr(), second.stderr(), JSON.stringify(await ok(second.url, "GET", "/webhooks"))]) {
      expect(text).not.toContain("e2e-secret");
      expect(text).not.toContain("q-secret");
    }
  }, 90_000);

  it("SIGHUP adds a webhook that starts at the end of the log, and removes one; the CLI lists and tests them", async () => {
    const dir = tempDir();
    const [receiver, kept] = [await startReceiver(), await startReceiver()];
    receivers.push(receiver, kept);
    const keptHook = { name: "kept", url: kept.url, secret: "never-shown" };
    const config = writeConfig(dir, [keptHook]);
    const serve = await serveOn("memory://", config, dir);
    procs.push(serve);
    await eventually(async () => expect((await webhooks(serve.url))[0]?.lease_owner).toBeTruthy(), 10_000);
    const before = await createTask(serve.url, "before the webhook");

    writeConfig(dir, [keptHook, { name: "added", url: receiver.url, format: "slack" }]);
    serve.proc.kill("SIGHUP");
    await eventually(() => expect(serve.stderr()).toMatch(/configuration reloaded .*added added/), 10_000);
    await eventually(async () => expect((await webhooks(serve.url))[1]?.lease_owner).toBeTruthy(), 10_000);
    const after = await createTask(serve.url, "after the webhook");
    await eventually(() => expect(receiver.delivered()).toHaveLength(1), 10_000);
    expect(receiver.requests[0]!.json.text).toContain(after);
    expect(JSON.stringify(receiver.requests)).not.toContain(before);
    // Each webhook delivers on its own: `added` having its event says nothing of `kept`, whose
    // row below must show it caught up (lag 0, last 200).
    await eventually(async () => expect((await webhooks(serve.url)).find((w) => w.name === "kept")).toMatchObject({ lag: 0, last_status: 200 }), 10_000);

    // The CLI, through the coordinator: a table of both, and a test event that arrives.
    const env = { MULTICLAUDE_COORD_URL: serve.url, MULTICLAUDE_COORD_TOKEN: TOKEN };
    const list = await runCli(["webhooks"], { home: dir, env });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^kept\s+127\.0\.0\.1:\d+\s+json\s+\d+\s+0\s+200/m);
    expect(list.stdout).toMatch(/^added\s+127\.0\.0\.1:\d+\s+slack/m);
    expect(list.stdout + (await runCli(["--json", "webhooks"], { home: dir, env })).stdout).not.toMatch(/never-shown|q-secret/);
    const test = await runCli(["webhooks", "test", "added"], { home: dir, env });
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toMatch(/^added: delivered \(HTTP 200, \d+ ms\)$/m);
    expect(receiver.requests.at(-1)!.json.text).toBe("🔔 test delivery from multiclaude-coord to webhook added");
    const missing = await runCli(["webhooks", "test", "nope"], { home: dir, env });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no webhook named "nope"/);
    const deliveredBefore = receiver.requests.length;

    writeConfig(dir, [keptHook]);
    serve.proc.kill("SIGHUP");
    await eventually(() => expect(serve.stderr()).toMatch(/configuration reloaded .*removed added/), 10_000);
    expect((await webhooks(serve.url)).map((w) => w.name)).toEqual(["kept"]);
    const last = await createTask(serve.url, "after removal");
    // The webhook that stays gets it; the removed one never does.
    await eventually(() => expect(JSON.stringify(kept.requests)).toContain(last), 10_000);
    expect(receiver.requests).toHaveLength(deliveredBefore);
  }, 60_000);
});

const skipRedis = !findRedisServer() && !process.env.CI;

describe.skipIf(skipRedis)("webhooks with two serve replicas on one redis-server", () => {
  let redis: RedisServer | undefined;
  const procs: ServeProcess[] = [];
  let receiver: Receiver | undefined;
  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedisServer();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop("SIGKILL")));
    await receiver?.close();
    await redis?.stop();
    cleanupTemp();
  });

  it("delivers each event once while both run, and the survivor takes over after the holder is killed", async () => {
    receiver = await startReceiver();
    const store = `${redis!.url}?prefix=webhooks-e2e:`;
    const dirs = [tempDir(), tempDir()];
    const configs = dirs.map((d) => writeConfig(d, [{ name: "ci", url: receiver!.url, events: ["task.created"] }]));
    const replicas = await Promise.all(dirs.map((d, i) => serveOn(store, configs[i]!, d)));
    procs.push(...replicas);
    await eventually(async () => expect((await webhooks(replicas[0]!.url))[0]!.lease_owner).toBeTruthy(), 15_000);

    const tasks: string[] = [];
    for (let i = 0; i < 20; i++) tasks.push(await createTask(replicas[i % 2]!.url, `both ${i}`));
    const firstIds = await createdIds(replicas[0]!.url, tasks);
    await eventually(() => expect(receiver!.delivered()).toHaveLength(20), 20_000);
    expect(receiver!.delivered()).toEqual(firstIds);

    // Kill the replica holding the lease (its pid is part of the lease owner's id).
    const owner = (await webhooks(replicas[0]!.url))[0]!.lease_owner!;
    const holder = replicas.find((r) => owner.includes(`:${r.proc.pid}:`))!;
    const survivor = replicas.find((r) => r !== holder)!;
    expect(holder).toBeDefined();
    holder.proc.kill("SIGKILL");
    await holder.exited;
    for (let i = 0; i < 10; i++) tasks.push(await createTask(survivor.url, `survivor ${i}`));
    const allIds = await createdIds(survivor.url, tasks);
    await eventually(() => expect(new Set(receiver!.delivered())).toEqual(new Set(allIds)), 30_000);
    // Nothing lost; at most the event in flight at the kill sent twice.
    expect(receiver!.delivered().length - allIds.length).toBeLessThanOrEqual(1);
    expect((await webhooks(survivor.url))[0]!.lease_owner).toContain(`:${survivor.proc.pid}:`);
  }, 120_000);
});
