import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EVENT_SCAN_BUDGET } from "../../src/coordinator/coordinator.js";
import { EVENT_TEXT_LIMIT } from "../../src/core/events.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { Store } from "../../src/store/types.js";
import { openEventStream } from "../helpers/sse-client.js";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Appends `n` task.created events straight to the log, 1000 a transaction (fast, and as a store holds them). */
async function fillLog(store: Store, n: number, description: string): Promise<void> {
  for (let done = 0; done < n; ) {
    const batch = Math.min(1000, n - done);
    await store.transact(async (tx) => {
      for (let i = 0; i < batch; i++) {
        tx.emit({ type: "task.created", data: { task_id: `t-${done + i}`, repo: "my-repo", description, ts: new Date().toISOString() } });
      }
    });
    done += batch;
  }
}

/** A stream request on a raw socket that the test does not read: the server sees a client that cannot keep up. */
function openUnreadStream(url: string, lastEventId: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `GET /api/v1/events/stream HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${TOKENS.read}\r\nLast-Event-ID: ${lastEventId}\r\n\r\n`,
      );
      socket.pause();
      resolve(socket);
    });
    socket.on("error", reject);
  });
}

describe("the event log and its readers are bounded (issue 11, defect 1)", () => {
  it("a large task text is cut to 1 KiB in its events, over the API; GET /tasks/{id} keeps it whole", async () => {
    server = await startTestServer();
    const description = "🦀".repeat(16_000);
    const created = await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description } });
    expect(created.status).toBe(201);
    const events = (await server.api("GET", "/events?since=0", { token: TOKENS.read })).body.data.events;
    expect(events[0].data.truncated).toBe(true);
    expect(Buffer.byteLength(events[0].data.description)).toBeLessThanOrEqual(EVENT_TEXT_LIMIT);
    expect((await server.api("GET", `/tasks/${created.body.data.id}`, { token: TOKENS.read })).body.data.description).toBe(description);
  });

  it("replays a large log to a client that does not read without buffering it, then delivers every event in order", async () => {
    const store = createMemoryStore({ retention: 50_000 });
    server = await startTestServer({ store });
    const description = "x".repeat(4000); // cut to 1 KiB in the log
    await fillLog(store, 6000, description);
    const sockets = new Set<Socket>();
    server.app.server.on("connection", (s) => sockets.add(s));

    const client = await openUnreadStream(server.url, "1");
    // Wait until the server's side of the stream is held back by the unread client: it holds
    // about a page, not the log (about 6 MB here).
    const serverSide = await waitFor(() => [...sockets].find((s) => s.writableLength > 64 * 1024), "back-pressure");
    expect(serverSide.writableLength).toBeLessThan(1024 * 1024);
    // Commit more meanwhile: the live events do not pile up in its buffer either, and the slow
    // client is not cut off.
    await fillLog(store, 500, "live");
    await new Promise((r) => setTimeout(r, 200));
    expect(serverSide.writableLength).toBeLessThan(1024 * 1024);
    expect(serverSide.destroyed).toBe(false);
    // Once the client reads, it gets every event: the replay, then the live ones, no gap.
    const ids: number[] = [];
    let text = "";
    client.setEncoding("utf8");
    client.on("data", (chunk: string) => {
      text += chunk;
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) if (line.startsWith("id: ")) ids.push(Number(line.slice(4)));
    });
    client.resume();
    await waitFor(() => (ids.length >= 6499 ? true : undefined), "the whole log on the slow client", 30_000);
    expect(ids).toEqual(Array.from({ length: 6499 }, (_, i) => i + 2));
    client.destroy();

    // A reading client gets all of it, from the oldest retained event, without a gap.
    const stream = await openEventStream(`${server.url}/api/v1/events/stream`, { token: TOKENS.read, lastEventId: "1" });
    const events = await stream.waitForEvents(6499, 30_000);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: 6499 }, (_, i) => i + 2));
    expect(events[0]!.data.truncated).toBe(true);
    await fillLog(store, 1, "after");
    await stream.waitForEvents(6500, 5000);
    stream.close();
  }, 60_000);

  it("cuts a live stream that falls 4 MiB behind; the client resumes by id", async () => {
    const store = createMemoryStore({ retention: 100_000 });
    server = await startTestServer({ store });
    const sockets = new Set<Socket>();
    server.app.server.on("connection", (s) => sockets.add(s));
    const client = await openUnreadStream(server.url, "0");
    const serverSide = await waitFor(() => [...sockets].find((s) => s.bytesWritten > 0), "the stream's first bytes");
    // Far more than the kernel's socket buffers and the 4 MiB the server holds for a stream.
    for (let i = 0; i < 40 && !serverSide.destroyed; i++) await fillLog(store, 1000, "y".repeat(2000));
    await waitFor(() => (serverSide.destroyed ? true : undefined), "the slow stream to be cut");
    client.destroy();
    const last = (await store.eventBounds()).last_id;
    const resumed = await openEventStream(`${server.url}/api/v1/events/stream`, { token: TOKENS.read, lastEventId: String(last - 10) });
    expect((await resumed.waitForEvents(10)).map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => last - 9 + i));
    resumed.close();
  }, 60_000);

  it("a filtered GET /events looks at a bounded number of events and says where to go on", async () => {
    const store = createMemoryStore({ retention: 50_000 });
    server = await startTestServer({ store });
    const total = EVENT_SCAN_BUDGET * 2 + 500;
    await fillLog(store, total, "d");
    await store.transact(async (tx) => tx.emit({ type: "node.offline", data: { node_id: "n1", ts: new Date().toISOString() } }));

    let since = 0;
    const pages: { events: { id: number }[]; next: number; last_event_id: number }[] = [];
    for (;;) {
      const res = await server.api("GET", `/events?since=${since}&limit=1&types=node.offline`, { token: TOKENS.read });
      expect(res.status).toBe(200);
      const page = res.body.data;
      pages.push(page);
      expect(page.next - since).toBeLessThanOrEqual(EVENT_SCAN_BUDGET);
      if (page.events.length > 0 || page.next >= page.last_event_id) break;
      since = page.next;
    }
    expect(pages.map((p) => p.events.length)).toEqual([0, 0, 1]);
    expect(pages[0]!.next).toBe(EVENT_SCAN_BUDGET);
    expect(pages[2]!.events[0]!.id).toBe(total + 1);
    expect(pages[2]!.next).toBe(total + 1);
  });
});

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
