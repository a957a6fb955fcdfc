/**
 * SQLite durability with real processes: a `serve` is SIGKILLed in the middle of a burst of
 * concurrent creates, claims (by id and claim-next) and completes, and a new `serve` on the same
 * file must have every change that got a 2xx answer, nothing half-done, a log that tells the
 * same story as the records, and an SSE client that followed the first process resumes against
 * the second with Last-Event-ID without a gap or a duplicate.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../cli/harness.js";
import {
  api,
  checkConsistency,
  cleanupTemp,
  NetError,
  ok,
  readAllEvents,
  readAllNodes,
  readAllTasks,
  startReplica,
  tempDir,
  TOKEN,
  type Answer,
} from "../helpers/cluster.js";
import type { ServeProcess } from "../helpers/serve-process.js";
import { openEventStream, type SseConnection } from "../helpers/sse-client.js";

const CLIENTS = 24;
/** The process is killed once this many requests of the burst have been answered 2xx. */
const KILL_AFTER = 400;

type Op = "create" | "claim-id" | "claim-next" | "complete";
interface Sent {
  op: Op;
  answer?: Answer;
  /** The request got no answer (the process died under it). */
  lost?: boolean;
}

const RANK: { [status: string]: number } = { pending: 0, claimed: 1, completed: 2 };

describe("SQLite store survives SIGKILL in the middle of a burst (real serve processes)", () => {
  const procs: ServeProcess[] = [];
  const streams: SseConnection[] = [];

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    await Promise.all(procs.splice(0).map((p) => p.stop("SIGKILL")));
  });
  afterAll(() => cleanupTemp());

  it("comes back with every acknowledged change, nothing half-claimed, a consistent log and a resumable stream", async () => {
    const store = `sqlite://${join(tempDir(), "c.db")}`;
    const first = await startReplica(store);
    procs.push(first);

    const regs: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      regs.push((await ok(first.url, "POST", "/register", { node_id: `crash-${i}`, capacity: { max_workers: 4 } })).registration_id);
    }
    // An SSE client follows the first process from the start of the log.
    const follower = await openEventStream(`${first.url}/api/v1/events/stream?since=0`, { token: TOKEN });
    streams.push(follower);
    expect(follower.status).toBe(200);

    const records: Sent[] = [];
    let answered2xx = 0;
    let killed = false;
    const call = async (op: Op, path: string, body: unknown): Promise<Answer | undefined> => {
      const rec: Sent = { op };
      records.push(rec);
      try {
        rec.answer = await api(first.url, "POST", path, body);
      } catch (err) {
        if (!(err instanceof NetError)) throw err;
        rec.lost = true;
        return undefined;
      }
      if (rec.answer.status >= 200 && rec.answer.status < 300 && ++answered2xx === KILL_AFTER && !killed) {
        killed = true;
        first.proc.kill("SIGKILL");
      }
      return rec.answer;
    };

    // Each client: create, claim (by id, or the best pending one), complete; until the process dies.
    const client = async (i: number) => {
      const reg = regs[i]!;
      for (let round = 0; !killed || round === 0; round++) {
        const created = await call("create", "/tasks", { repo: `repo-${i % 3}`, description: `task ${i}.${round}`, priority: "medium" });
        if (!created) return;
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        let claimed: any;
        if ((i + round) % 2 === 0) {
          const r = await call("claim-id", `/tasks/${created.body.data.id}/claim`, { registration_id: reg, worker_name: `w${round}` });
          if (!r) return;
          // Another client's claim-next may have taken it first (and maybe completed it already).
          if (r.status === 200) claimed = r.body.data;
          else expect(["TASK_CLAIMED", "TASK_NOT_CLAIMABLE"], JSON.stringify(r.body)).toContain(r.body.code);
        } else {
          const r = await call("claim-next", "/tasks/claim", { registration_id: reg, worker_name: `w${round}`, wait_seconds: 1 });
          if (!r) return;
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          claimed = r.body.data.task;
        }
        if (!claimed) continue;
        expect(claimed.claimed_node).toBe(`crash-${i}`);
        const done = await call("complete", `/tasks/${claimed.id}/complete`, { registration_id: reg, summary: "ok" });
        if (!done) return;
        expect(done.status, JSON.stringify(done.body)).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    expect(killed).toBe(true);
    expect(await first.exited).toBe(null); // killed by the signal, not exited on its own
    await follower.ended;
    // Some requests were in flight when the process died: the crash hit the middle of the burst.
    expect(records.filter((r) => r.lost).length).toBeGreaterThan(0);

    // The follower saw a gapless prefix of the log.
    const seen = follower.events;
    expect(seen.length).toBeGreaterThan(CLIENTS);
    expect(seen.map((e) => e.id)).toEqual(seen.map((_, i) => i + 1));
    const lastSeen = seen[seen.length - 1]!.id!;

    // A new process on the same file.
    const second = await startReplica(store);
    procs.push(second);
    const [log, tasks, nodes] = [await readAllEvents(second.url), await readAllTasks(second.url), await readAllNodes(second.url)];
    const byId = new Map(tasks.map((t) => [t.id as string, t]));

    // Every change that got a 2xx is there, at least as far along as that answer said.
    const acked = records.filter((r) => r.answer && r.answer.status >= 200 && r.answer.status < 300);
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER);
    for (const r of acked) {
      const data = r.answer!.body.data;
      if (r.op === "create") {
        expect(byId.get(data.id), `created task ${data.id}`).toBeDefined();
      } else if (r.op === "claim-id" || (r.op === "claim-next" && data.task)) {
        const answered = r.op === "claim-id" ? data : data.task;
        const now = byId.get(answered.id);
        expect(RANK[now.status], `task ${answered.id} was claimed, is ${now.status}`).toBeGreaterThanOrEqual(RANK.claimed!);
        expect(now.claimed_by).toBe(answered.claimed_by);
        expect(now.claimed_at).toBe(answered.claimed_at);
      } else if (r.op === "complete") {
        const now = byId.get(data.id);
        expect(now.status, `task ${data.id} was completed`).toBe("completed");
        expect(now.completed_at).toBe(data.completed_at);
      }
    }
    // Nothing is there that the burst did not ask for.
    expect(tasks.length).toBeLessThanOrEqual(records.filter((r) => r.op === "create").length);
    expect(nodes.map((n) => n.id).sort()).toEqual(regs.map((_, i) => `crash-${i}`).sort());

    // The log tells the same story as the records; nothing is half-claimed.
    expect(log.oldest_id).toBe(1);
    expect(log.last_event_id).toBe(log.events.length);
    const story = checkConsistency(log.events, tasks, nodes);
    expect(story.size).toBe(tasks.length);
    for (const [id, h] of story) {
      expect(h.types.filter((t) => t === "task.created"), id).toHaveLength(1);
      expect(h.types.filter((t) => t === "task.claimed").length, id).toBeLessThanOrEqual(1);
    }
    expect(log.events.filter((e) => e.type === "node.registered")).toHaveLength(CLIENTS);
    // What the follower was sent is exactly what the new process has under those ids.
    expect(lastSeen).toBeLessThanOrEqual(log.last_event_id);
    expect(log.events.slice(0, seen.length).map((e) => ({ id: e.id, event: e.type, data: e.data }))).toEqual(seen);

    // The follower resumes against the new process with Last-Event-ID.
    const resumed = await openEventStream(`${second.url}/api/v1/events/stream`, { token: TOKEN, lastEventId: String(lastSeen) });
    streams.push(resumed);
    expect(resumed.status).toBe(200);
    // And new changes arrive live after the replay.
    const reg = (await ok(second.url, "POST", "/register", { node_id: "after-crash", capacity: { max_workers: 2 } })).registration_id;
    const fresh = await ok(second.url, "POST", "/tasks", { repo: "repo-0", description: "after the crash" });
    await ok(second.url, "POST", `/tasks/${fresh.id}/claim`, { registration_id: reg, worker_name: "w" });
    await ok(second.url, "POST", `/tasks/${fresh.id}/complete`, { registration_id: reg });
    const after = await readAllEvents(second.url);
    const expected = after.events.filter((e) => e.id > lastSeen).map((e) => ({ id: e.id, event: e.type, data: e.data }));
    expect(expected.length).toBeGreaterThanOrEqual(4);
    await resumed.waitFor((c) => c.events.some((e) => e.id === after.last_event_id), 10_000, `event ${after.last_event_id}`);
    expect(resumed.items.some((i) => i.kind === "event" && i.event === "stream.reset")).toBe(false);
    expect(resumed.events).toEqual(expected);
  }, 60_000);
});
