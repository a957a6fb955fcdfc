import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli, startServe, tempHome, type CliProcess } from "../cli/harness.js";

let home: string;
let url: string;
let serve: CliProcess;

/** Runs a command against the test coordinator as this machine (HOME holds token and registration). */
const cli = (...args: string[]) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url } });
const json = async (...args: string[]) => {
  const r = await cli("--json", ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  ({ url, proc: serve } = await startServe(home));
}, 120_000);

afterAll(async () => {
  expect(await serve?.stop("SIGTERM")).toBe(0);
});

describe("every command, human and --json", () => {
  it("serve says where it listens and where the token is", () => {
    expect(serve.stdout).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/m);
    expect(serve.stdout).toContain(`admin token in ${join(home, ".multiclaude", "coordination-token")}`);
  });

  it("status", async () => {
    const r = await cli("status");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^store\s+memory$/m);
    expect(r.stdout).toContain(url);
    expect(await json("status")).toMatchObject({ store: "memory", version: expect.any(String), last_event_id: expect.any(Number) });
  });

  it("register, nodes, nodes show, heartbeat", async () => {
    const r = await cli("register", "--node-id", "ci-1", "--label", "pool=gpu", "--max-workers", "2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/registered node ci-1/);
    expect(r.stdout).toMatch(/registration id reg-\S+/);
    const reg = await json("register", "--node-id", "ci-1", "--label", "pool=gpu", "--max-workers", "2");
    expect(reg).toMatchObject({ registration_id: expect.stringMatching(/^reg-/), heartbeat_interval_seconds: 30, node_id: "ci-1" });
    expect((await cli("register", "-q", "--node-id", "ci-1", "--label", "pool=gpu", "--max-workers", "2")).stdout).toMatch(/^reg-\S+\n$/);

    const nodes = await cli("nodes");
    expect(nodes.stdout).toMatch(/^ci-1\s+online\s+healthy\s+0\/2\s+0\s+.+\s+pool=gpu$/m);
    expect((await json("nodes", "list", "--label", "pool=gpu")).nodes.map((n: { id: string }) => n.id)).toEqual(["ci-1"]);
    expect((await json("nodes", "--label", "pool=cpu")).nodes).toEqual([]);
    expect((await cli("nodes", "show", "ci-1")).stdout).toMatch(/^labels\s+pool=gpu$/m);
    expect(await json("nodes", "show", "ci-1")).toMatchObject({ id: "ci-1", status: "online", labels: { pool: "gpu" } });

    expect((await cli("heartbeat", "--status", "degraded")).stdout).toMatch(/heartbeat sent/);
    expect(await json("heartbeat")).toMatchObject({ pending_messages: 0, cancelled_task_ids: [] });
  });

  it("tasks create, list, pending, show, claim, complete, fail, release, cancel", async () => {
    const created = await cli("tasks", "create", "--repo", "web", "--description", "Fix the login page", "--priority", "high", "--label", "pool=gpu");
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.match(/(task-\S+) created/)![1]!;
    const second = await json("tasks", "create", "--repo", "web", "--description", "Second", "--idempotency-key", "k1");
    expect(second).toMatchObject({ repo: "web", description: "Second", status: "pending", priority: "medium" });
    expect((await cli("tasks", "create", "-q", "--repo", "web", "--description", "Second", "--idempotency-key", "k1")).stdout).toBe(`${second.id}\n`);

    expect((await cli("tasks")).stdout).toMatch(new RegExp(`^${id}\\s+pending\\s+high\\s+web\\s+-\\s+-\\s+Fix the login page$`, "m"));
    expect((await cli("-o", "wide", "tasks")).stdout).toMatch(new RegExp(`^${id}\\s+pending\\s+high\\s+web\\s+-\\s+-\\s+pool=gpu\\s+0/3\\s+\\d+s\\s+Fix the login page$`, "m"));
    const list = await json("tasks", "list", "--repo", "web", "--limit", "1", "--all");
    expect(list.tasks.map((t: { id: string }) => t.id).sort()).toEqual([id, second.id].sort());
    expect(list.next_cursor).toBeNull();
    expect((await json("tasks", "pending", "--label", "pool=gpu")).tasks[0].id).toBe(id);
    expect((await json("tasks", "pending", "--label", "pool=cpu")).tasks.map((t: { id: string }) => t.id)).not.toContain(id);
    expect((await cli("tasks", "show", id)).stdout).toContain("Fix the login page");
    expect(await json("tasks", "show", id)).toMatchObject({ id, status: "pending", labels: { pool: "gpu" } });

    const claim = await cli("tasks", "claim", id, "--worker", "w1");
    expect(claim.code, claim.stderr).toBe(0);
    expect(claim.stdout).toMatch(new RegExp(`${id} claimed by w1@ci-1`));
    expect(await json("tasks", "release", id, "--reason", "not now")).toMatchObject({ id, status: "pending" });
    expect(await json("tasks", "claim", id, "--worker", "w1")).toMatchObject({ status: "claimed", claimed_by: "w1@ci-1" });
    expect(await json("tasks", "fail", id, "--reason", "flaky")).toMatchObject({ status: "waiting", failure_reason: "flaky", not_before: expect.any(String) });
    // A retried failure waits out tasks.retry_backoff (30 s doubled: its second attempt): --next passes over it, a claim by id is refused.
    expect((await cli("tasks", "claim", "--next", "--worker", "w3", "-q")).stdout).toBe(`${second.id}\n`);
    expect((await cli("tasks", "show", id)).stdout).toMatch(/^not before\s+\S+ \(in \d+s\)$/m);
    expect((await json("tasks", "show", id)).cooldown).toMatchObject({ node_id: "ci-1" });
    expect((await cli("tasks", "claim", id, "--worker", "w2")).code).toBe(4);
    // An admin need not wait: cancel, then retry, and it may be claimed at once.
    await json("tasks", "cancel", id);
    expect(await json("tasks", "retry", id)).toMatchObject({ status: "pending", attempts: 0 });
    expect((await cli("tasks", "claim", id, "--worker", "w2", "-q")).stdout).toBe(`${id}\n`);
    const done = await cli("tasks", "complete", id, "--pr", "#42", "--summary", "fixed");
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/completed/);
    expect(await json("tasks", "show", id)).toMatchObject({ status: "completed", result: { pr: "#42", summary: "fixed" } });

    expect(await json("tasks", "fail", second.id, "--reason", "broken", "--no-retry")).toMatchObject({ status: "failed" });
    const third = await json("tasks", "create", "--repo", "web", "--description", "Third");
    expect((await cli("tasks", "cancel", third.id, "--reason", "dup")).stdout).toMatch(/cancelled/);
  }, 90_000); // some 25 CLI processes one after another: a loaded machine needs more than 30 s

  it("tasks claim --next with nothing to claim exits 3 (JSON says task: null)", async () => {
    const r = await cli("--json", "tasks", "claim", "--next", "--wait", "0.2");
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ task: null });
    expect(r.stderr).toMatch(/no task available/);
  });

  it("messages send, list, ack", async () => {
    const sent = await json("messages", "send", "--from", "supervisor@lead", "--to", "worker-1@ci-1", "--body", "hello there");
    expect(sent).toMatchObject({ to: "worker-1@ci-1", status: "pending" });
    expect((await cli("messages", "list", "--node", "ci-1")).stdout).toMatch(new RegExp(`${sent.id}\\s+supervisor@lead\\s+worker-1@ci-1\\s+pending`));
    expect((await cli("messages", "ack", sent.id)).stdout).toMatch(/acked/);
    expect((await json("messages", "--status", "acked")).messages.map((m: { id: string }) => m.id)).toContain(sent.id);
  });

  it("events --no-follow prints the log, as JSON lines with --json", async () => {
    const human = await cli("events", "--no-follow", "--type", "task.completed");
    expect(human.stdout).toMatch(/^#\d+ \S+ task\.completed task_id=task-/m);
    const lines = (await cli("--json", "events", "--no-follow", "--since", "0", "--type", "task.*")).stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(JSON.parse(l).type).toMatch(/^task\./);
  });

  it("completion prints the shipped scripts", async () => {
    const r = await cli("completion", "bash");
    expect(r.stdout).toContain("complete -F _multiclaude_coord multiclaude-coord");
    expect((await cli("completion", "fish")).stdout).toContain("complete -c multiclaude-coord");
    expect((await cli("completion", "zsh")).stdout).toContain("#compdef multiclaude-coord");
    expect((await cli("completion", "tcsh")).code).toBe(2);
  });

  it("stdout is plain text without colour when it is not a terminal", async () => {
    const r = await cli("tasks");
    expect(r.stdout).not.toContain("\x1b[");
  });
});

describe("exit codes", () => {
  it("4 on conflict, with who holds the claim", async () => {
    const t = await json("tasks", "create", "--repo", "web", "--description", "contested");
    const other = tempHome();
    const token = (await import("node:fs")).readFileSync(join(home, ".multiclaude", "coordination-token"), "utf8").trim();
    const env = { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: token };
    expect((await runCli(["register", "--node-id", "other"], { home: other, env })).code).toBe(0);
    expect((await runCli(["tasks", "claim", t.id], { home: other, env })).code).toBe(0);
    const r = await cli("tasks", "claim", t.id);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^error: task ${t.id} is already claimed by cli@other \\(TASK_CLAIMED\\) since `));
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
  });

  it("3 when not found", async () => {
    const r = await cli("tasks", "show", "task-nope");
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/TASK_NOT_FOUND/);
  });

  it("5 on a bad token", async () => {
    const r = await runCli(["status"], { home, env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: "wrong" } });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/UNAUTHORIZED/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("6 when the coordinator is unreachable", async () => {
    const r = await cli("--url", "http://127.0.0.1:9", "--timeout", "2", "status");
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/cannot reach coordinator at http:\/\/127\.0\.0\.1:9/);
  });

  it("2 on a bad config file or bad flags", async () => {
    const bad = join(home, "bad.yaml");
    writeFileSync(bad, "server:\n  listen_addr: nope:xx\ncoordination:\n  token: ${UNSET_TOKEN}\n");
    const r = await cli("--config", bad, "status");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/server\.listen_addr: /);
    expect(r.stderr).toMatch(/coordination\.token: environment variable UNSET_TOKEN is not set/);
    expect((await cli("tasks", "create", "--repo", "x")).code).toBe(2);
    expect((await cli("tasks", "create", "--repo", "x", "--description", "y", "--priority", "urgent")).code).toBe(2);
    expect((await cli("frobnicate")).code).toBe(2);
    expect((await cli("tasks", "claim")).code).toBe(2);
    const serveBad = await runCli(["serve", "--listen", "1.2.3.4:xyz"], { home });
    expect(serveBad.code).toBe(2);
  });

  it("numeric flags have the coordinator's bounds: refused with exit 2 before any request, accepted up to them", async () => {
    const refused = [
      ["register", "--node-id", "bounds", "--max-workers", "1025"],
      ["register", "--node-id", "bounds", "--current-workers", "1025"],
      ["heartbeat", "--current-workers", "1025"],
      ["tasks", "claim", "--next", "--wait", "301"],
      ["tasks", "list", "--limit", "1001"],
      ["tasks", "pending", "--limit", "1001"],
      ["tasks", "create", "--repo", "x", "--description", "y", "--max-attempts", "101"],
      ["events", "--no-follow", "--limit", "10001"],
      ["agent", "--max-workers", "1025"],
    ];
    for (const args of refused) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/expected .*(number|seconds)/);
    }
    // The server's own bounds are accepted (max_workers 0: a node that takes no claims), from
    // another machine (HOME) so this one's saved registration stays.
    const token = readFileSync(join(home, ".multiclaude", "coordination-token"), "utf8").trim();
    const other = { home: tempHome(), env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: token } };
    const there = (...args: string[]) => runCli(args, other);
    for (const [max, current] of [["0", "0"], ["1024", "1024"]] as const) {
      const r = await there("register", "--node-id", "bounds", "--max-workers", max, "--current-workers", current);
      expect(r.code, r.stderr).toBe(0);
      expect((await json("nodes", "show", "bounds")).capacity).toMatchObject({ max_workers: Number(max), current_workers: Number(current) });
    }
    expect((await there("heartbeat", "--current-workers", "1024")).code).toBe(0);
    expect((await cli("tasks", "list", "--limit", "1000")).code).toBe(0);
  });

  it("2 for node commands before register, 0 for --help", async () => {
    const fresh = tempHome();
    const r = await runCli(["tasks", "claim", "--next"], { home: fresh, env: { MULTICLAUDE_COORD_URL: url } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not registered .* run `multiclaude-coord register` first/);
    expect((await cli("--help")).code).toBe(0);
    expect((await cli("tasks", "create", "--help")).stdout).toContain("--idempotency-key");
  });
});
