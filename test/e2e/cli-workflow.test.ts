/**
 * The real binary against a real `serve` (DESIGN §11): `nodes cordon|uncordon ID`,
 * `tasks retry ID`, `tasks create --not-before / --concurrency-key`, human and --json, with the
 * documented exit codes.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, serveForSuite } from "../cli/harness.js";

const suite = serveForSuite();

const cli = (...args: string[]) => runCli(args, { home: suite.home, env: { MULTICLAUDE_COORD_URL: suite.url } });
const json = async (...args: string[]) => {
  const r = await cli("--json", ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  expect((await cli("register", "--node-id", "ci-1", "--max-workers", "2")).code).toBe(0);
}, 120_000);

describe("workflow commands", () => {
  it("nodes cordon keeps the claims, refuses new ones with exit 4, nodes uncordon lifts it", async () => {
    const held = await json("tasks", "create", "--repo", "web", "--description", "held");
    await json("tasks", "claim", held.id, "--worker", "w1");
    const r = await cli("nodes", "cordon", "ci-1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cordoned node ci-1: no new tasks; it keeps its 1 claim/);
    expect((await cli("nodes")).stdout).toMatch(/^ci-1\s+online \(cordoned\)\s+healthy\s+1\/2/m);
    expect(await json("nodes", "show", "ci-1")).toMatchObject({ cordoned: true, claimed_tasks: [held.id] });
    expect(await json("heartbeat")).toMatchObject({ cordoned: true });

    const next = await json("tasks", "create", "--repo", "web", "--description", "next");
    const refused = await cli("tasks", "claim", next.id, "--worker", "w2");
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/cordoned.*\(NODE_CORDONED\)/);
    expect((await cli("tasks", "claim", "--next", "--worker", "w2")).code).toBe(4);

    expect((await cli("nodes", "uncordon", "ci-1")).stdout).toMatch(/uncordoned node ci-1: it takes new tasks again/);
    expect(await json("nodes", "uncordon", "ci-1")).toMatchObject({ id: "ci-1", cordoned: false });
    expect(await json("tasks", "claim", next.id, "--worker", "w2")).toMatchObject({ status: "claimed" });
    expect((await cli("nodes", "cordon", "ghost")).code).toBe(3);
    for (const id of [held.id, next.id]) await json("tasks", "complete", id);
  });

  it("tasks retry runs a failed task again; exit 4 for a task that is not failed or cancelled, 3 for an unknown one", async () => {
    const t = await json("tasks", "create", "--repo", "web", "--description", "flaky job", "--max-attempts", "1");
    await json("tasks", "claim", t.id, "--worker", "w1");
    await json("tasks", "fail", t.id, "--reason", "red", "--no-retry");
    const r = await cli("tasks", "retry", t.id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${t.id} retried \\(pending\\)`));
    expect(await json("tasks", "show", t.id)).toMatchObject({ status: "pending", attempts: 0, failure_reason: null });
    const again = await cli("tasks", "retry", t.id);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/TASK_NOT_RETRYABLE/);
    expect((await cli("tasks", "retry", "task-ghost")).code).toBe(3);
  });

  it("tasks create --not-before +1h makes a waiting task, listed by --status waiting and shown with its time; a bad time exits 2", async () => {
    const t = await json("tasks", "create", "--repo", "web", "--description", "after the freeze", "--not-before", "+1h");
    expect(t.status).toBe("waiting");
    expect(Date.parse(t.not_before) - Date.now()).toBeGreaterThan(50 * 60_000);
    expect((await json("tasks", "list", "--status", "waiting")).tasks.map((x: { id: string }) => x.id)).toEqual([t.id]);
    expect((await cli("tasks", "show", t.id)).stdout).toMatch(/^not before\s+\S+ \(in (59m|1h)\)$/m);
    const at = await json("tasks", "create", "--repo", "web", "--description", "at a time", "--not-before", "2020-01-01T00:00:00Z");
    expect(at).toMatchObject({ status: "pending", not_before: "2020-01-01T00:00:00.000Z" });
    const bad = await cli("tasks", "create", "--repo", "web", "--description", "x", "--not-before", "soon");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected a time such as \+10m/);
    await json("tasks", "cancel", t.id);
  });

  it("tasks create --concurrency-key K --concurrency-limit N: shown by tasks show; a claim past the limit exits 4; a limit without a key exits 2", async () => {
    const create = (...extra: string[]) => json("tasks", "create", "--repo", "db", "--description", "migrate", "--concurrency-key", "db-migrations", ...extra);
    const first = await create("--concurrency-limit", "1");
    expect(first).toMatchObject({ concurrency_key: "db-migrations", concurrency_limit: 1 });
    const second = await create();
    expect((await cli("tasks", "show", second.id)).stdout).toMatch(/^concurrency\s+key db-migrations, at most 1 claimed at once$/m);
    await json("tasks", "claim", first.id, "--worker", "w1");
    const refused = await cli("tasks", "claim", second.id, "--worker", "w2");
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/concurrency_key "db-migrations" \(limit 1\).*\(CONCURRENCY_LIMIT\)/);
    await json("tasks", "complete", first.id);
    expect(await json("tasks", "claim", second.id, "--worker", "w2")).toMatchObject({ status: "claimed" });
    await json("tasks", "complete", second.id);

    const bad = await cli("tasks", "create", "--repo", "db", "--description", "x", "--concurrency-limit", "2");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/concurrency_limit: needs a concurrency_key/);
    expect((await cli("tasks", "create", "--repo", "db", "--description", "x", "--concurrency-key", "k", "--concurrency-limit", "0")).code).toBe(2);
  });

  it("tasks create --depends-on waits for the dependency (shown by tasks show and --status waiting), runs after it, is cancelled with it; 3 for an unknown one", async () => {
    const api = await json("tasks", "create", "--repo", "web", "--description", "add the API");
    const docs = await json("tasks", "create", "--repo", "web", "--description", "write the docs");
    const client = await json("tasks", "create", "--repo", "web", "--description", "write the client", "--depends-on", `${api.id},${docs.id}`, "--depends-on", api.id);
    expect(client).toMatchObject({ status: "waiting", depends_on: [api.id, docs.id], blocked_by: [api.id, docs.id] });
    expect((await json("tasks", "list", "--status", "waiting")).tasks.map((x: { id: string }) => x.id)).toEqual([client.id]);
    const shown = (await cli("tasks", "show", client.id)).stdout;
    expect(shown).toMatch(new RegExp(`^depends on\\s+${api.id}, ${docs.id}$`, "m"));
    expect(shown).toMatch(new RegExp(`^blocked by\\s+${api.id}, ${docs.id}$`, "m"));

    for (const id of [api.id, docs.id]) {
      await json("tasks", "claim", id, "--worker", "w1");
      await json("tasks", "complete", id);
    }
    expect(await json("tasks", "show", client.id)).toMatchObject({ status: "pending", blocked_by: [] });
    expect((await cli("tasks", "show", client.id)).stdout).toMatch(/^blocked by\s+-$/m);

    // Cancelling a dependency cancels the dependent; one created after that is cancelled at once, with a warning.
    const then = await json("tasks", "create", "--repo", "web", "--description", "then", "--depends-on", client.id);
    await json("tasks", "cancel", client.id);
    expect(await json("tasks", "show", then.id)).toMatchObject({ status: "cancelled", cancel_reason: `dependency ${client.id} cancelled` });
    const late = await cli("tasks", "create", "--repo", "web", "--description", "late", "--depends-on", client.id);
    expect(late.code, late.stderr).toBe(0);
    expect(late.stderr).toMatch(new RegExp(`cancelled at once: dependency ${client.id} cancelled`));

    const unknown = await cli("tasks", "create", "--repo", "web", "--description", "x", "--depends-on", "task-ghost");
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/dependency task-ghost not found \(TASK_NOT_FOUND\)/);
  });
});
