/**
 * The SSE event stream as a client sees it on the wire: framing, resume without gap or
 * duplicate (Last-Event-ID and ?since=), filters, the retention reset, keepalive pings,
 * agreement with GET /events, and shutdown.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/store/memory.js";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { allEvents, claim, finish, lastEventId, okData } from "../helpers/api-fixtures.js";
import { openEventStream, type SseConnection } from "../helpers/sse-client.js";

let server: TestServer | undefined;
const open: SseConnection[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await server?.close();
  server = undefined;
});

async function start(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  server = await startTestServer(opts);
  return server;
}

async function stream(query = "", opts: { lastEventId?: string; token?: string | null } = {}): Promise<SseConnection> {
  const c = await openEventStream(`${server!.url}/api/v1/events/stream${query}`, { token: TOKENS.read, ...opts });
  open.push(c);
  return c;
}

/** Waits until the stream has sent its first line, so it is subscribed. */
async function ready(c: SseConnection): Promise<SseConnection> {
  expect(c.status).toBe(200);
  await c.waitFor((x) => x.items.length > 0, 5000, "the retry line");
  return c;
}

/** Makes `n` task.created events (and nothing else); returns the tasks. */
async function makeTasks(n: number, repo = "my-repo"): Promise<any[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await createTask(server!, { repo, description: `t${i}` }));
  return out;
}

function ids(events: Array<{ id: number | undefined }>): number[] {
  return events.map((e) => e.id!);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("GET /events/stream", () => {
  it("sends retry: 3000 first, then live events with increasing ids, event types and one-line JSON data", async () => {
    await start();
    await makeTasks(2); // before the connection: not replayed without a resume point
    const c = await ready(await stream());
    expect(c.items[0]).toEqual({ kind: "retry", value: 3000 });
    expect(c.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(String(c.headers["cache-control"])).toMatch(/no-cache/);

    const reg = await registerNode(server!, "machine-b");
    const [t] = await makeTasks(1);
    okData(await claim(server!, t.id, reg, "worker-1"));
    const events = await c.waitForEvents(3);
    expect(events.map((e) => e.event)).toEqual(["node.registered", "task.created", "task.claimed"]);
    expect(ids(events)).toEqual([3, 4, 5]);
    expect(events[0]!.data).toMatchObject({ node_id: "machine-b" });
    expect(events[1]!.data).toMatchObject({ task_id: t.id, repo: "my-repo", status: "pending" });
    expect(events[2]!.data).toMatchObject({ task_id: t.id, claimed_by: "worker-1@machine-b", node_id: "machine-b" });
    for (const e of events) expect(typeof e.data.ts).toBe("string");
  });

  it("resumes with Last-Event-ID: every missed event exactly once, then live ones, no gap, no duplicate", async () => {
    await start();
    const first = await ready(await stream());
    await makeTasks(3);
    const seen = await first.waitForEvents(3);
    expect(ids(seen)).toEqual([1, 2, 3]);
    first.close();
    await first.ended;

    await makeTasks(4); // 4..7 happen while disconnected
    const resumed = await stream("", { lastEventId: "3" });
    expect(resumed.status).toBe(200);
    await resumed.waitForEvents(4);
    await makeTasks(2); // 8, 9 live
    const all = await resumed.waitForEvents(6);
    expect(ids(all)).toEqual([4, 5, 6, 7, 8, 9]);
    await sleep(50);
    expect(ids(resumed.events)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(resumed.items.filter((i) => i.kind === "event" && i.event === "stream.reset")).toEqual([]);
  });

  it("loses nothing when events keep arriving while the backlog is replayed", async () => {
    await start();
    await makeTasks(50);
    // Writes racing with the replay: the stream must still deliver 1..N once each, in order.
    const writer = makeTasks(60);
    const c = await stream("?since=0");
    await writer;
    const total = await lastEventId(server!);
    expect(total).toBe(110);
    await c.waitForEvents(total, 10_000);
    await sleep(50);
    expect(ids(c.events)).toEqual(range(1, total));
  });

  it("?since= resumes the same way as Last-Event-ID, and ?since=0 replays everything retained", async () => {
    await start();
    await makeTasks(5);
    const c = await stream("?since=2");
    await makeTasks(1);
    await c.waitForEvents(4);
    expect(ids(c.events)).toEqual([3, 4, 5, 6]);

    const zero = await stream("?since=0");
    expect(ids(await zero.waitForEvents(6))).toEqual(range(1, 6));
  });

  it("Last-Event-ID wins over ?since= (a browser reconnect keeps the original URL)", async () => {
    await start();
    await makeTasks(5);
    const c = await stream("?since=1", { lastEventId: "4" });
    await makeTasks(1);
    await c.waitForEvents(2);
    await sleep(30);
    expect(ids(c.events)).toEqual([5, 6]);
  });

  it("?types=task.* and ?repo= filter, also during replay; ids still increase", async () => {
    await start();
    const reg = await registerNode(server!, "machine-b");
    const [a] = await makeTasks(1, "repo-a");
    const [b] = await makeTasks(1, "repo-b");
    const tasksOnly = await stream("?since=0&types=task.*");
    const repoA = await stream("?since=0&repo=repo-a");
    const claimsAndOffline = await stream("?since=0&types=task.claimed,node.offline");
    okData(await claim(server!, a.id, reg));
    okData(await claim(server!, b.id, reg));
    okData(await finish(server!, "complete", a.id, reg));

    const t = await tasksOnly.waitForEvents(5);
    expect(t.map((e) => e.event)).toEqual(["task.created", "task.created", "task.claimed", "task.claimed", "task.completed"]);
    const r = await repoA.waitForEvents(3);
    expect(r.map((e) => [e.event, e.data.task_id])).toEqual([
      ["task.created", a.id],
      ["task.claimed", a.id],
      ["task.completed", a.id],
    ]);
    const c = await claimsAndOffline.waitForEvents(2);
    expect(c.map((e) => e.data.task_id)).toEqual([a.id, b.id]);
    await sleep(50);
    expect(tasksOnly.events).toHaveLength(5);
    expect(repoA.events).toHaveLength(3);
    expect(claimsAndOffline.events).toHaveLength(2);
    for (const s of [tasksOnly, repoA, claimsAndOffline]) {
      const got = ids(s.events);
      expect(got).toEqual([...got].sort((x, y) => x - y));
    }
  });

  it("a resume id older than the retention first gets event: stream.reset with {oldest_id}, then the retained events", async () => {
    const store = createMemoryStore({ retention: 5 });
    await start({ store });
    await makeTasks(200); // far beyond the retention, whatever slack the store trims with
    const bounds = okData(await server!.api("GET", "/events?since=0&limit=1", { token: TOKENS.read }));
    const oldest = bounds.oldest_id as number;
    expect(oldest).toBeGreaterThan(2);
    expect(bounds.last_event_id).toBe(200);

    const c = await stream("", { lastEventId: "1" });
    await c.waitFor((x) => x.events.some((e) => e.id === 200), 5000, "the last event");
    const first = c.items.find((i) => i.kind === "event")!;
    expect(first).toMatchObject({ kind: "event", id: undefined, event: "stream.reset" });
    expect(JSON.parse((first as any).data)).toMatchObject({ oldest_id: oldest });
    const replayed = c.events.filter((e) => e.event !== "stream.reset");
    expect(ids(replayed)).toEqual(range(oldest, 200));

    // A resume id inside the retention gets no reset.
    const fine = await stream("", { lastEventId: String(oldest - 1) });
    await fine.waitFor((x) => x.events.some((e) => e.id === 200), 5000, "the last event");
    expect(fine.events.some((e) => e.event === "stream.reset")).toBe(false);
    expect(ids(fine.events)).toEqual(range(oldest, 200));
  });

  it("a resume id the coordinator never gave (its log restarted) gets stream.reset, then every event: none dropped", async () => {
    // A client followed a coordinator up to id 500; the coordinator restarts with a fresh
    // (memory) store and counts from 1 again. The client reconnects with Last-Event-ID: 500.
    await start();
    await makeTasks(3);
    const c = await stream("", { lastEventId: "500" });
    expect(c.status).toBe(200);
    await makeTasks(2); // ids 4 and 5: the client must see them, not wait for id 501
    await c.waitFor((x) => x.events.some((e) => e.id === 5), 3000, "event 5");
    const first = c.items.find((i) => i.kind === "event")!;
    expect(first).toMatchObject({ event: "stream.reset" });
    expect(ids(c.events.filter((e) => e.event !== "stream.reset"))).toEqual(range(1, 5));
  });

  it("sends : ping comments on an idle stream", async () => {
    await start({ ssePingIntervalMs: 40 });
    const c = await ready(await stream());
    await c.waitFor((x) => x.items.filter((i) => i.kind === "comment" && i.text === "ping").length >= 2, 5000, "two pings");
    expect(c.events).toEqual([]);
  });

  it("GET /events?since= returns the same ids and data as the stream", async () => {
    await start();
    const reg = await registerNode(server!, "machine-b");
    const [t] = await makeTasks(1);
    okData(await claim(server!, t.id, reg, "worker-1"));
    okData(await server!.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: reg, agents: [{ name: "w1", type: "worker", status: "running", repo: "my-repo" }] } }));
    okData(await finish(server!, "complete", t.id, reg, { pr: "#42" }));
    const total = await lastEventId(server!);

    const c = await stream("?since=1");
    const streamed = await c.waitForEvents(total - 1);
    const listed = await allEvents(server!, 1);
    expect(listed.map((e) => ({ id: e.id, event: e.type, data: e.data }))).toEqual(streamed);

    const filtered = okData(await server!.api("GET", "/events?since=0&types=task.*&repo=my-repo", { token: TOKENS.read })).events as any[];
    const filteredStream = await stream("?since=0&types=task.*&repo=my-repo");
    const fs = await filteredStream.waitForEvents(filtered.length);
    expect(filtered.map((e) => ({ id: e.id, event: e.type, data: e.data }))).toEqual(fs);
    expect(filtered.map((e) => e.type)).toEqual(["task.created", "task.claimed", "task.completed"]);
  });

  it("GET /events pages with limit and since", async () => {
    await start();
    await makeTasks(7);
    const page1 = okData(await server!.api("GET", "/events?since=0&limit=3", { token: TOKENS.read }));
    expect(ids(page1.events)).toEqual([1, 2, 3]);
    expect(page1.last_event_id).toBe(7);
    const page2 = okData(await server!.api("GET", "/events?since=3&limit=3", { token: TOKENS.read }));
    expect(ids(page2.events)).toEqual([4, 5, 6]);
    const end = okData(await server!.api("GET", "/events?since=7", { token: TOKENS.read }));
    expect(end.events).toEqual([]);
  });

  it("closing the server ends open streams", async () => {
    await start();
    const a = await ready(await stream());
    const b = await ready(await stream("?since=0&types=node.*"));
    const closing = server!.close();
    server = undefined;
    const result = await Promise.race([Promise.all([a.ended, b.ended, closing]).then(() => "ended"), sleep(5000).then(() => "hung")]);
    expect(result).toBe("ended");
    expect(a.isEnded && b.isEnded).toBe(true);
  });

  it("without a read token the stream is refused with the error envelope, not opened", async () => {
    await start();
    const none = await stream("", { token: null });
    await none.ended;
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    const bad = await stream("", { lastEventId: "abc" });
    await bad.ended;
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ success: false, code: "INVALID_REQUEST" });
  });
});
