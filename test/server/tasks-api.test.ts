/**
 * Task creation and listing as scripts use them: idempotency keys (also under concurrency),
 * cursor paging, filters, and the `GET /tasks/pending?wait_seconds=` long poll.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { allEvents, claim, expectError, makeClock, okData, type TestClock } from "../helpers/api-fixtures.js";

let server: TestServer;
let clock: TestClock;

beforeEach(async () => {
  clock = makeClock();
  server = await startTestServer({ clock: clock.now });
});
afterEach(async () => {
  await server.close();
});

const post = (body: Record<string, unknown>) => server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "job", ...body } });

describe("POST /tasks", () => {
  it("applies defaults: priority medium, no labels, max_attempts 3, pending, and announces task.created", async () => {
    const t = okData(await post({}), 201);
    expect(t).toMatchObject({ repo: "my-repo", description: "job", priority: "medium", labels: {}, max_attempts: 3, status: "pending", attempts: 0 });
    expect(t.created_at).toBe(clock.iso());
    const [ev] = (await allEvents(server)).filter((e) => e.type === "task.created");
    expect(ev!.data).toMatchObject({ task_id: t.id, repo: "my-repo", priority: "medium", labels: {} });
  });

  it("the same idempotency_key returns the same task with 200, once created", async () => {
    const first = await post({ idempotency_key: "ci-run-77" });
    expect(first.status).toBe(201);
    const again = await post({ idempotency_key: "ci-run-77" });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    expect((await allEvents(server)).filter((e) => e.type === "task.created")).toHaveLength(1);
    // Another key is another task.
    expect((await post({ idempotency_key: "ci-run-78" })).status).toBe(201);
  });

  it("20 concurrent creates with one key make exactly one task", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => post({ idempotency_key: "burst" })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(19);
    expect(new Set(results.map((r) => r.body.data.id)).size).toBe(1);
    expect(okData(await server.api("GET", "/tasks", { token: TOKENS.read })).tasks).toHaveLength(1);
  });

  it("reusing a key for a different task is 409 IDEMPOTENCY_CONFLICT", async () => {
    const t = okData(await post({ idempotency_key: "k1", description: "one thing" }), 201);
    const details = expectError(await post({ idempotency_key: "k1", description: "another thing" }), 409, "IDEMPOTENCY_CONFLICT");
    expect(details).toMatchObject({ idempotency_key: "k1", task_id: t.id });
  });

  it("the key still returns the task after it was claimed and completed", async () => {
    const reg = await registerNode(server, "machine-b");
    const t = okData(await post({ idempotency_key: "k2" }), 201);
    okData(await claim(server, t.id, reg));
    const again = await post({ idempotency_key: "k2" });
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ id: t.id, status: "claimed" });
  });
});

describe("GET /tasks", () => {
  it("pages newest first with next_cursor, every task exactly once", async () => {
    const made: string[] = [];
    for (let i = 0; i < 23; i++) {
      made.push(okData(await post({ description: `t${i}` }), 201).id);
      if (i % 3 === 0) clock.advance(1); // some share a millisecond, some do not
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=5&cursor=${cursor}` : "?limit=5";
      const page = okData(await server.api("GET", `/tasks${q}`, { token: TOKENS.read }));
      seen.push(...page.tasks.map((t: any) => t.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(5);
    expect(seen).toEqual([...made].reverse());
  });

  it("filters by status and repo", async () => {
    const reg = await registerNode(server, "machine-b");
    const a = okData(await post({ repo: "repo-a" }), 201);
    okData(await post({ repo: "repo-b" }), 201);
    okData(await claim(server, a.id, reg));
    const ids = async (q: string) => (okData(await server.api("GET", `/tasks${q}`, { token: TOKENS.read })).tasks as any[]).map((t) => t.repo);
    expect(await ids("?status=claimed")).toEqual(["repo-a"]);
    expect(await ids("?status=pending")).toEqual(["repo-b"]);
    expect(await ids("?repo=repo-b")).toEqual(["repo-b"]);
    expect(await ids("?repo=repo-a&status=pending")).toEqual([]);
  });
});

describe("GET /tasks/pending?wait_seconds=", () => {
  it("waits past tasks the labels do not fit and answers as soon as one fits", async () => {
    let answered = false;
    const poll = server.api("GET", "/tasks/pending?labels=pool:cpu&wait_seconds=20", { token: TOKENS.read }).then((r) => {
      answered = true;
      return r;
    });
    await sleep(50);
    await createTask(server, { labels: { pool: "gpu" }, description: "gpu" });
    await sleep(100);
    expect(answered).toBe(false);
    await createTask(server, { labels: { pool: "cpu" }, description: "cpu" });
    const res = await Promise.race([poll, sleep(5000).then(() => null)]);
    expect(res).not.toBeNull();
    expect((okData(res!).tasks as any[]).map((t) => t.description)).toEqual(["cpu"]);
  });

  it("answers {tasks: []} when its wait runs out, at once when tasks are there", async () => {
    const empty = okData(await server.api("GET", "/tasks/pending?wait_seconds=0.2", { token: TOKENS.read }));
    expect(empty).toEqual({ tasks: [] });
    await createTask(server, {});
    const res = await Promise.race([server.api("GET", "/tasks/pending?wait_seconds=20", { token: TOKENS.read }), sleep(5000).then(() => null)]);
    expect(okData(res!).tasks).toHaveLength(1);
  });
});

describe("repo filters and branches over HTTP (the agent's claims, DESIGN §15)", () => {
  it("POST /tasks/claim takes repos, GET /tasks/pending takes ?repos=a,b; bad ones are 400 naming the field", async () => {
    const reg = await registerNode(server, "machine-a");
    const other = okData(await post({ repo: "other" }), 201);
    const mine = okData(await post({ repo: "mine" }), 201);
    const pending = okData(await server.api("GET", "/tasks/pending?repos=mine,third", { token: TOKENS.read }));
    expect(pending.tasks.map((t: { id: string }) => t.id)).toEqual([mine.id]);
    const claimed = okData(
      await server.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: reg, worker_name: "w", repos: ["mine"] } }),
    );
    expect(claimed.task.id).toBe(mine.id);
    const none = okData(await server.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: reg, worker_name: "w", repos: [] } }));
    expect(none.task).toBeNull();
    expect((await getTaskStatus(other.id))).toBe("pending");

    const badBody = expectError(
      await server.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: reg, worker_name: "w", repos: ["no spaces"] } }),
      400,
      "INVALID_REQUEST",
    );
    expect(JSON.stringify(badBody)).toContain("repos");
    expectError(await server.api("GET", "/tasks/pending?repos=a,,b", { token: TOKENS.read }), 400, "INVALID_REQUEST");
    const many = Array.from({ length: 300 }, (_, i) => `r${i}`).join(",");
    expectError(await server.api("GET", `/tasks/pending?repos=${many}`, { token: TOKENS.read }), 400, "INVALID_REQUEST");
  });

  it("complete takes a branch, shown on the task; a branch with spaces is refused", async () => {
    const reg = await registerNode(server, "machine-a");
    const t = okData(await post({}), 201);
    okData(await claim(server, t.id, reg));
    expectError(
      await server.api("POST", `/tasks/${t.id}/complete`, { token: TOKENS.node, body: { registration_id: reg, branch: "work/a b" } }),
      400,
      "INVALID_REQUEST",
    );
    const done = okData(await server.api("POST", `/tasks/${t.id}/complete`, { token: TOKENS.node, body: { registration_id: reg, branch: "work/proud-tiger" } }));
    expect(done.result).toEqual({ pr: null, summary: null, branch: "work/proud-tiger" });
  });
});

async function getTaskStatus(id: string): Promise<string> {
  return okData(await server.api("GET", `/tasks/${id}`, { token: TOKENS.read })).status;
}
