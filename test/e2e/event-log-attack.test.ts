/**
 * Issue 11, defect 1, against the real binary: a log made of large events, replayed from the
 * start to clients that do not read, must neither crash `serve` nor grow its memory with the
 * log; a filtered read of a huge log answers promptly, and the CLI pages through it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { ensureBuilt, runCli } from "../cli/harness.js";
import { cleanupTemp, tempDir, TOKEN } from "../helpers/cluster.js";
import { spawnServe, type ServeProcess } from "../helpers/serve-process.js";

const EVENTS = 40_000;
let home: string;
let serve: ServeProcess;

/** Resident memory of a process, in bytes (Linux). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) * 1024;
}

beforeAll(async () => {
  ensureBuilt();
  home = tempDir("mcc-event-attack-");
  const db = join(home, "coordination.db");
  // The attacker's log, written straight into the file: 40,000 tasks with 64 KiB descriptions
  // (as events; cut to 1 KiB each on the way in), then one node.offline at the very end.
  const store = await createSqliteStore(db, { retention: 100_000 });
  const description = "A".repeat(65_536);
  for (let done = 0; done < EVENTS; done += 1000) {
    await store.transact(async (tx) => {
      for (let i = 0; i < 1000; i++) {
        tx.emit({ type: "task.created", data: { task_id: `t-${done + i}`, repo: "r", description, ts: new Date().toISOString() } });
      }
    });
  }
  await store.transact(async (tx) => tx.emit({ type: "node.offline", data: { node_id: "victim", ts: new Date().toISOString() } }));
  await store.close();
  const config = join(home, "coordination.yaml");
  writeFileSync(config, `server:\n  auth:\n    tokens: ["${TOKEN}"]\n  rate_limit:\n    enabled: false\nevents:\n  retention: 100000\n`);
  serve = await spawnServe(["--listen", "127.0.0.1:0", "--store", `sqlite://${db}`, "--config", config], { home });
}, 120_000);

afterAll(async () => {
  await serve?.stop();
  cleanupTemp();
});

function openUnread(path: string, extra = ""): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port: serve.port }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n${extra}\r\n`);
      s.pause();
      resolve(s);
    });
    s.on("error", reject);
  });
}

/** Reads a whole stream until the event with id `last` arrived; returns how many ids came. */
function readStreamTo(last: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port: serve.port }, () =>
      s.write(`GET /api/v1/events/stream?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`),
    );
    let n = 0;
    let tail = "";
    s.setEncoding("utf8");
    s.on("data", (chunk: string) => {
      const text = tail + chunk;
      const lines = text.split("\n");
      tail = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith("id: ")) continue;
        n++;
        if (Number(line.slice(4)) === last) {
          s.destroy();
          resolve(n);
        }
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`stream closed after ${n} events`)));
  });
}

describe("a log of large events (issue 11, defect 1)", () => {
  it("a Last-Event-ID: 1 stream and four ?since=0 streams that do not read neither crash serve nor grow its memory with the log", async () => {
    const before = rss(serve.proc.pid!);
    const slow = [
      await openUnread("/api/v1/events/stream", "Last-Event-ID: 1\r\n"),
      await openUnread("/api/v1/events/stream?since=0"),
      await openUnread("/api/v1/events/stream?since=0"),
      await openUnread("/api/v1/events/stream?since=0"),
      await openUnread("/api/v1/events/stream?since=0"),
    ];
    // A client that reads gets the whole log; by then the slow streams have long started.
    expect(await readStreamTo(EVENTS + 1)).toBe(EVENTS + 1);
    const grown = rss(serve.proc.pid!) - before;
    // The log is ~45 MB: holding it once per slow stream would be 225 MB and more; what grows
    // is SQLite's page cache (32 MiB) and garbage of the reading stream.
    expect(grown).toBeLessThan(128 * 1024 * 1024);
    const health = await fetch(`${serve.url}/api/v1/health`);
    expect(health.status).toBe(200);
    for (const s of slow) s.destroy();
  }, 120_000);

  it("GET /events?since=0&limit=1&types=node.offline answers promptly, and `events --no-follow` pages to the match", async () => {
    const started = Date.now();
    const res = await fetch(`${serve.url}/api/v1/events?since=0&limit=1&types=node.offline`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const page = ((await res.json()) as { data: { events: unknown[]; next: number; last_event_id: number } }).data;
    expect(res.status).toBe(200);
    expect(page.events).toEqual([]);
    expect(page.next).toBeLessThan(page.last_event_id);
    expect(Date.now() - started).toBeLessThan(5000);

    const out = await runCli(["--json", "events", "--no-follow", "--type", "node.offline"], {
      home,
      env: { MULTICLAUDE_COORD_URL: serve.url, MULTICLAUDE_COORD_TOKEN: TOKEN },
      timeoutMs: 60_000,
    });
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: number; type: string; data: { node_id: string } });
    expect(lines).toEqual([expect.objectContaining({ id: EVENTS + 1, type: "node.offline", data: expect.objectContaining({ node_id: "victim" }) })]);
  }, 120_000);
});
