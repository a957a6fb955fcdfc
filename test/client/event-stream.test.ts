import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Client, type StreamEvent } from "../../src/index.js";
import { startServer } from "../../src/server/serve.js";
import { whilePortInUse } from "../helpers/port-in-use.js";
import { ADMIN, serverConfig, startCuttableProxy, startTestServer } from "./server.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function newClient(url: string): Client {
  const c = new Client({ url, token: ADMIN });
  cleanups.push(() => c.close());
  return c;
}

/** Pulls events off an iterator into `into` until `until` holds (or fails after a timeout). */
async function pull(it: AsyncIterator<StreamEvent>, into: StreamEvent[], until: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!until()) {
    const next = await Promise.race([it.next(), new Promise<"late">((r) => setTimeout(() => r("late"), Math.max(0, deadline - Date.now())))]);
    if (next === "late") throw new Error(`timed out; got ${into.map((e) => `${e.id}:${e.type}`).join(" ")}`);
    if (next.done) throw new Error("stream ended");
    into.push(next.value);
  }
}

const taskIds = (events: StreamEvent[]) => events.filter((e) => e.type === "task.created").map((e) => e.data.task_id);

describe("Client.streamEvents", () => {
  it("delivers what another client causes, filtered by type glob, from now on", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const watcher = newClient(server.url);
    const actor = newClient(server.url);
    const before = await actor.createTask({ repo: "r", description: "before the stream" });
    const controller = new AbortController();
    let connected!: () => void;
    const connecting = new Promise<void>((resolve) => (connected = resolve));
    const it = watcher.streamEvents({ types: ["task.*"], signal: controller.signal, onConnect: () => connected() })[Symbol.asyncIterator]();
    const got: StreamEvent[] = [];
    const first = pull(it, got, () => got.length >= 2);
    // "From now on" is from when the server answered the stream: wait for that, not for a time.
    await connecting;
    await actor.register({ node_id: "n" }); // node.registered: filtered out
    const t1 = await actor.createTask({ repo: "r", description: "one" });
    await actor.claimTask(t1.id, "w");
    await first;
    expect(got.map((e) => e.type)).toEqual(["task.created", "task.claimed"]);
    expect(got[0]!.data.task_id).toBe(t1.id);
    expect(taskIds(got)).not.toContain(before.id);
    controller.abort();
    expect((await it.next()).done).toBe(true);
  });

  it("survives a cut connection: resumes with Last-Event-ID, no event lost or repeated", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const proxy = await startCuttableProxy(server.port);
    cleanups.push(() => proxy.close());
    const watcher = newClient(proxy.url);
    const actor = newClient(server.url);
    const disconnects: number[] = [];
    const stream = watcher.streamEvents({ since: 0, onDisconnect: ({ lastEventId }) => disconnects.push(lastEventId ?? -1) });
    const it = stream[Symbol.asyncIterator]();
    const got: StreamEvent[] = [];
    for (let i = 0; i < 3; i++) await actor.createTask({ repo: "r", description: `a${i}` });
    await pull(it, got, () => got.length >= 3);
    const next = pull(it, got, () => got.length >= 8, 20_000);
    proxy.cutAll();
    // Created while the stream is down: replayed after the reconnect.
    for (let i = 0; i < 5; i++) await actor.createTask({ repo: "r", description: `b${i}` });
    await next;
    expect(disconnects.length).toBeGreaterThanOrEqual(1);
    expect(got.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await it.return?.(undefined);
  });

  it("survives a coordinator restart on a durable store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcc-restart-"));
    const config = await serverConfig({ store: `sqlite://${join(dir, "coord.db")}` });
    let server = await startServer(config, { log: () => {} });
    const port = server.port;
    cleanups.push(() => server.close());
    const watcher = newClient(server.url);
    const actor = newClient(server.url);
    let connected!: () => void;
    const connecting = new Promise<void>((resolve) => (connected = resolve));
    const it = watcher.streamEvents({ onConnect: () => connected() })[Symbol.asyncIterator]();
    const got: StreamEvent[] = [];
    const first = pull(it, got, () => got.length >= 2);
    await connecting;
    await actor.createTask({ repo: "r", description: "before 1" });
    await actor.createTask({ repo: "r", description: "before 2" });
    await first;
    await server.close();
    server = await whilePortInUse(() => startServer({ ...config, listen: { host: "127.0.0.1", port } }, { log: () => {} }));
    // A fresh client: the old one's idle keep-alive sockets died with the old server.
    const after = await newClient(server.url).createTask({ repo: "r", description: "after restart" });
    await pull(it, got, () => got.length >= 3, 25_000);
    const base = got[0]!.id as number;
    expect(got.map((e) => e.id)).toEqual([base, base + 1, base + 2]);
    expect(got[2]!.data.task_id).toBe(after.id);
    await it.return?.(undefined);
  });

  it("surfaces stream.reset when the resume point is older than the retained log", async () => {
    const server = await startTestServer({ events_retention: 3 });
    cleanups.push(() => server.close());
    const actor = newClient(server.url);
    // The memory store trims its log in batches, past retention + 100.
    for (let i = 0; i < 110; i++) await actor.createTask({ repo: "r", description: `t${i}` });
    const it = newClient(server.url).streamEvents({ since: 1 })[Symbol.asyncIterator]();
    const got: StreamEvent[] = [];
    await pull(it, got, () => got.some((e) => e.id === 110));
    expect(got[0]).toMatchObject({ type: "stream.reset", id: null, data: { oldest_id: expect.any(Number) } });
    const ids = got.slice(1).map((e) => e.id as number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids[0]).toBe((got[0] as { data: { oldest_id: number } }).data.oldest_id);
    expect(ids.at(-1)).toBe(110);
    await it.return?.(undefined);
  });
});

describe("Client.streamEvents after the coordinator's log restarted", () => {
  it("a resume id newer than the log: yields stream.reset, then every retained event, then live ones", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const actor = newClient(server.url);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await actor.createTask({ repo: "r", description: `t${i}` })).id);
    expect((await actor.status()).last_event_id).toBe(5);
    // As if this client had followed an earlier coordinator (memory://) up to #1000.
    const it = newClient(server.url).streamEvents({ since: 1000 })[Symbol.asyncIterator]();
    const got: StreamEvent[] = [];
    await pull(it, got, () => got.length >= 6);
    expect(got[0]).toMatchObject({ type: "stream.reset", id: null, data: { oldest_id: 1, requested_id: 1000 } });
    expect(got.slice(1).map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    expect(taskIds(got)).toEqual(made);
    const live = await actor.createTask({ repo: "r", description: "live" });
    await pull(it, got, () => got.length >= 7);
    expect(got[6]).toMatchObject({ id: 6, type: "task.created", data: { task_id: live.id } });
    await it.return?.(undefined);
  });
});
