/**
 * The newcomer problems of issue 13, one test each, through the real binary: what a person who
 * follows the README sees in a terminal or a script.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliProcess, ensureBuilt, runCli, startServe, tempHome } from "../cli/harness.js";

let home: string;
let url: string;
let serve: CliProcess;
let token: string;

const cli = (...args: string[]) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url } });
/** Another machine (its own HOME and saved registration) with this coordinator's admin token. */
const machine = () => {
  const other = { home: tempHome(), env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: token } };
  return (...args: string[]) => runCli(args, other);
};
const json = async (...args: string[]) => {
  const r = await cli("--json", ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: { data: Record<string, unknown> } }> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as { data: Record<string, unknown> } };
}

beforeAll(async () => {
  ensureBuilt();
  home = tempHome();
  writeFileSync(join(home, "coordination.yaml"), "server:\n  rate_limit:\n    enabled: false\n");
  ({ url, proc: serve } = await startServe(home));
  token = readFileSync(join(home, ".multiclaude", "coordination-token"), "utf8").trim();
}, 120_000);

afterAll(async () => {
  expect(await serve?.stop("SIGTERM")).toBe(0);
});

describe("1. a bad --label", () => {
  it.each([
    ["tasks", "create", "--repo", "r", "--description", "d", "--label", "pool"],
    ["tasks", "create", "--repo", "r", "--description", "d", "--label", "=x"],
    ["tasks", "create", "--repo", "r", "--description", "d", "--label", "a="],
    ["nodes", "--label", "pool"],
    ["tasks", "pending", "--label", "pool"],
    ["register", "--label", "pool"],
  ])("%s %s … is one line on stderr and exit 2", async (...args) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --label expects key=value, got "[^"]*"\n$/);
    expect(r.stdout).toBe("");
  });
});

describe("2. the listen line", () => {
  it("says what was bound, and that it is every interface", async () => {
    const all = new CliProcess(["serve", "--listen", "0.0.0.0:0", "--store", "memory://"], { home: tempHome() });
    try {
      const m = await all.waitFor(/^listening on (.*)$/m);
      expect(m[1]).toMatch(/^http:\/\/0\.0\.0\.0:(\d+) \(every interface; from this machine http:\/\/127\.0\.0\.1:\1\)$/);
    } finally {
      expect(await all.stop()).toBe(0);
    }
    expect(serve.stdout).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/m);
  });
});

describe("3. the request log", () => {
  it("at the default level: one line per change or error, none for reads or heartbeats; every request at debug", async () => {
    const serverHome = tempHome();
    writeFileSync(join(serverHome, "coordination.yaml"), "server:\n  rate_limit:\n    enabled: false\n");
    const run = async (extra: string[]) => {
      const proc = new CliProcess(["serve", "--listen", "127.0.0.1:0", "--store", "memory://", ...extra], { home: serverHome });
      const at = (await proc.waitFor(/listening on (http:\/\/\S+)/))[1]!;
      const there = (...args: string[]) => runCli(args, { home: serverHome, env: { MULTICLAUDE_COORD_URL: at } });
      const before = proc.stderr.length;
      for (let i = 0; i < 5; i++) expect((await there("status")).code).toBe(0);
      expect((await there("register", "--node-id", "log-node")).code).toBe(0);
      expect((await there("heartbeat")).code).toBe(0);
      expect((await there("tasks", "create", "--repo", "r", "--description", "d")).code).toBe(0);
      expect((await there("tasks", "show", "task-nope")).code).toBe(3);
      expect(await proc.stop()).toBe(0);
      return proc.stderr
        .slice(before)
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { msg: string; level: number });
    };
    const info = await run([]);
    expect(info.map((l) => l.msg)).toEqual(["POST /api/v1/register 200", "POST /api/v1/tasks 201", "GET /api/v1/tasks/:id 404"]);
    const debug = await run(["--log-level", "debug"]);
    expect(debug.filter((l) => l.msg === "GET /api/v1/status 200")).toHaveLength(5);
    expect(debug.map((l) => l.msg)).toContain("POST /api/v1/heartbeat 200");
    const help = await runCli(["serve", "--help"], { home });
    expect(help.stdout).toMatch(/--log-level <level>\s+request log on stderr/);
    expect(help.stdout).not.toMatch(/--log-level[^\n]*stdout/);
  }, 60_000);
});

describe("4. tables", () => {
  it("one borderless layout, whatever the colour; cut to the width; no trailing spaces", async () => {
    const long = "a description long enough that it cannot fit in a hundred columns next to the other columns of the table";
    expect((await cli("tasks", "create", "--repo", "tables", "--description", long)).code).toBe(0);
    const plain = await runCli(["tasks", "--repo", "tables"], { home, env: { MULTICLAUDE_COORD_URL: url, COLUMNS: "100" } });
    const coloured = await runCli(["tasks", "--repo", "tables"], { home, env: { MULTICLAUDE_COORD_URL: url, COLUMNS: "100", FORCE_COLOR: "1" } });
    expect(coloured.stdout).toContain("\x1b[");
    // eslint-disable-next-line no-control-regex
    expect(coloured.stdout.replace(/\x1b\[[0-9;]*m/g, "")).toBe(plain.stdout);
    const lines = plain.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+PRIORITY\s+REPO\s+CLAIMANT\s+PR\s+DESCRIPTION$/);
    for (const l of lines) {
      expect(l.length).toBeLessThanOrEqual(100);
      expect(l).not.toMatch(/\s$/);
      expect(l).not.toMatch(/[│─┌┐└┘├┤┬┴┼]/);
    }
    expect(lines[1]).toMatch(/a description long enough.*…$/);
    // Without a width (a pipe, no $COLUMNS) nothing is cut.
    expect((await cli("tasks", "--repo", "tables")).stdout).toContain(long);
  });
});

describe("5. hints", () => {
  it("tasks list --limit 1: the more-hint goes to stderr, stdout holds only the table", async () => {
    for (let i = 0; i < 2; i++) expect((await cli("tasks", "create", "--repo", "hints", "--description", `h${i}`)).code).toBe(0);
    const r = await cli("tasks", "list", "--repo", "hints", "--limit", "1");
    expect(r.stdout).not.toMatch(/more:/);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    expect(r.stderr).toMatch(/^more: --cursor \S+ \(or --all\)$/m);
  });
});

describe("6. state REPO", () => {
  it("active_prs is the sum of each node's latest report; an unknown repo says known: false", async () => {
    const ids: string[] = [];
    for (const node of ["prs-a", "prs-b"]) {
      const reg = await api("POST", "/register", { node_id: node, capacity: { max_workers: 1 } });
      ids.push(String(reg.body.data.registration_id));
    }
    expect((await api("POST", "/heartbeat", { registration_id: ids[0], repos: [{ name: "backend", active_prs: 1 }] })).status).toBe(200);
    expect((await api("POST", "/heartbeat", { registration_id: ids[1], repos: [{ name: "backend", active_prs: 1 }] })).status).toBe(200);
    const human = await cli("state", "backend");
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^active PRs\s+2$/m);
    expect(await json("state", "backend")).toMatchObject({ repo: "backend", known: true, active_prs: 2 });

    const missing = await api("GET", "/state/nonexistent");
    expect(missing.status).toBe(200);
    expect(missing.body.data).toMatchObject({ repo: "nonexistent", known: false, pending_tasks: 0, active_prs: 0 });
    const r = await cli("state", "nonexistent");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no node reports repo nonexistent and no task names it/);
    // `backend (1 PR)`, not `(1 PRs)`.
    expect((await cli("nodes", "show", "prs-a")).stdout).toMatch(/^repos\s+backend \(1 PR\)$/m);
  });
});

describe("7. node lists", () => {
  it("show claims/max, and unknown health and workers for nodes that left", async () => {
    const there = machine();
    expect((await there("register", "--node-id", "claims-7", "--max-workers", "5")).code).toBe(0);
    for (let i = 0; i < 2; i++) {
      const id = (await cli("tasks", "create", "-q", "--repo", "seven", "--description", `c${i}`)).stdout.trim();
      expect((await there("tasks", "claim", id)).code).toBe(0);
    }
    expect((await cli("nodes")).stdout).toMatch(/^claims-7\s+online\s+healthy\s+2\/5\s/m);
    expect((await there("deregister")).code).toBe(0);
    const after = (await cli("-o", "wide", "nodes")).stdout;
    expect(after).toMatch(/^claims-7\s+deregistered\s+unknown\s+0\/5\s+-\s+.+?\s+-\s+-\s+-\s/m);
    // Deregistered a moment ago: still listed (only after an hour is it hidden without --all).
    expect((await json("nodes", "--all")).nodes.map((n: { id: string }) => n.id)).toContain("claims-7");
  });
});

describe("8. claiming after a pause longer than the offline threshold", () => {
  it("tasks claim heartbeats for the saved registration when the node went offline, then claims", async () => {
    const serverHome = tempHome();
    writeFileSync(join(serverHome, "coordination.yaml"), "registration:\n  heartbeat_interval: 1s\n  offline_threshold: 2s\n");
    const proc = new CliProcess(["serve", "--listen", "127.0.0.1:0", "--store", "memory://"], { home: serverHome });
    try {
      const at = (await proc.waitFor(/listening on (http:\/\/\S+)/))[1]!;
      const there = (...args: string[]) => runCli(args, { home: serverHome, env: { MULTICLAUDE_COORD_URL: at } });
      expect((await there("register", "--node-id", "slow-reader")).code).toBe(0);
      expect((await there("tasks", "create", "--repo", "r", "--description", "d")).code).toBe(0);
      for (;;) {
        const nodes = JSON.parse((await there("--json", "nodes")).stdout) as { nodes: { status: string }[] };
        if (nodes.nodes[0]!.status === "offline") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const r = await there("tasks", "claim", "--next");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/claimed by cli@slow-reader/);
      expect(r.stderr).toMatch(/offline .*sent a heartbeat/);
    } finally {
      await proc.stop();
    }
    expect(readFileSync(join(import.meta.dirname, "..", "..", "docs", "cli.md"), "utf8")).toMatch(/\| 4 \| conflict \|.*`NODE_OFFLINE`/);
  }, 60_000);
});

describe("9. a released task", () => {
  it("no longer shows its old claimant", async () => {
    const there = machine();
    expect((await there("register", "--node-id", "release-9")).code).toBe(0);
    const id = (await cli("tasks", "create", "-q", "--repo", "nine", "--description", "give back")).stdout.trim();
    expect((await there("tasks", "claim", id)).code).toBe(0);
    expect((await there("tasks", "release", id)).code).toBe(0);
    expect((await cli("tasks", "--repo", "nine")).stdout).toMatch(new RegExp(`^${id}\\s+pending\\s+medium\\s+nine\\s+-\\s+-\\s+give back$`, "m"));
    expect(await json("tasks", "show", id)).toMatchObject({ status: "pending", claimed_by: null, claimed_at: null });
  });
});

describe("10. wording", () => {
  it("patterns in words, missing labels named, a failure without a tick, YAML errors complete", async () => {
    const repo = await cli("tasks", "create", "--repo", "my repo", "--description", "d");
    expect(repo.code).toBe(2);
    expect(repo.stderr).toMatch(/body\.repo: must be letters, digits, '\.', '_' or '-', starting with a letter or digit \(no spaces\)/);
    expect(repo.stderr).not.toMatch(/pattern|\^\[/);

    const there = machine();
    expect((await there("register", "--node-id", "words-10", "--label", "pool=cpu")).code).toBe(0);
    const gpu = (await cli("tasks", "create", "-q", "--repo", "ten", "--description", "gpu job", "--label", "pool=gpu")).stdout.trim();
    const refused = await there("tasks", "claim", gpu);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(new RegExp(`node words-10 lacks the label task ${gpu} requires: pool=gpu \\(LABELS_NOT_SATISFIED\\)`));

    const id = (await cli("tasks", "create", "-q", "--repo", "ten", "--description", "doomed")).stdout.trim();
    expect((await there("tasks", "claim", id)).code).toBe(0);
    const failed = await there("tasks", "fail", id, "--reason", "broken", "--no-retry");
    expect(failed.stdout).toMatch(new RegExp(`^✗ ${id} failed \\(failed\\)$`, "m"));
    expect(failed.stdout).not.toContain("✓");

    const yamlHome = tempHome();
    writeFileSync(join(yamlHome, "coordination.yaml"), "server:\n  listen_addr: \":7331\"\n bad: [\n");
    const yaml = await runCli(["status"], { home: yamlHome });
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/line 3, column 1: \S.*\S\n$/);
    expect(yaml.stderr).not.toMatch(/:\n$/);
  });
});

describe("11. flags", () => {
  it("events --limit N without --no-follow stops after N events", async () => {
    const events = new CliProcess(["--json", "events", "--type", "task.created", "--limit", "2"], { home, env: { MULTICLAUDE_COORD_URL: url } });
    await events.waitFor(/following events from/, "stderr");
    for (let i = 0; i < 3; i++) expect((await cli("tasks", "create", "--repo", "eleven", "--description", `e${i}`)).code).toBe(0);
    expect(await events.exited).toBe(0);
    expect(events.stdout.trim().split("\n")).toHaveLength(2);
  });
});

describe("13. Ctrl-C", () => {
  it("events and serve exit 0 on SIGINT", async () => {
    const events = new CliProcess(["events"], { home, env: { MULTICLAUDE_COORD_URL: url } });
    await events.waitFor(/following events from/, "stderr");
    expect(await events.stop("SIGINT")).toBe(0);
  });
});

describe("14. help", () => {
  it("has examples, the global flags on subcommands, required options marked", async () => {
    const r = await cli("tasks", "create", "--help");
    expect(r.stdout).toMatch(/^Examples:\n {2}\$ multiclaude-coord tasks create --repo web/m);
    expect(r.stdout).toMatch(/--repo <repo>\s+repository the task is about \(required\)/);
    expect(r.stdout).toMatch(/^Global Options:$/m);
    expect(r.stdout).toMatch(/--url <url>/);
    expect((await cli("--help")).stdout).toMatch(/^Examples:/m);
  });

  it("--from must be agent@node", async () => {
    const r = await cli("messages", "send", "--from", "worker-1", "--to", "supervisor@lead", "--body", "hi");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected agent@node .*got "worker-1"/);
  });
});

describe("beyond the fixes", () => {
  it("tasks create warns on stderr when no online node has the labels; the API answers warnings", async () => {
    const r = await cli("tasks", "create", "-q", "--repo", "warn", "--description", "d", "--label", "pool=tpu");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^task-\S+\n$/);
    expect(r.stderr).toMatch(/^warning: no online node has the labels pool=tpu \(and takes work\); the task waits until one does$/m);
    const there = machine();
    expect((await there("register", "--node-id", "tpu-node", "--label", "pool=tpu")).code).toBe(0);
    const created = await api("POST", "/tasks", { repo: "warn", description: "d2", labels: { pool: "tpu" } });
    expect(created.status).toBe(201);
    expect(created.body.data.warnings).toBeUndefined();
    expect((await api("POST", "/tasks", { repo: "warn", description: "d3", labels: { pool: "nope" } })).body.data.warnings).toHaveLength(1);
    // Without labels any node fits: no warning, even with no node online.
    expect((await cli("tasks", "create", "--repo", "warn", "--description", "plain")).stderr).toBe("");
  });

  it("-o name prints the ids; tasks list filters by --label and --node", async () => {
    const there = machine();
    expect((await there("register", "--node-id", "filter-node", "--label", "zone=a")).code).toBe(0);
    const a = (await cli("tasks", "create", "-q", "--repo", "filters", "--description", "a", "--label", "zone=a")).stdout.trim();
    const b = (await cli("tasks", "create", "-q", "--repo", "filters", "--description", "b")).stdout.trim();
    expect((await cli("-o", "name", "tasks", "--repo", "filters")).stdout).toBe(`${b}\n${a}\n`);
    expect((await cli("-o", "name", "tasks", "--repo", "filters", "--label", "zone=a")).stdout).toBe(`${a}\n`);
    expect((await there("tasks", "claim", b)).code).toBe(0);
    expect((await cli("-o", "name", "tasks", "--node", "filter-node")).stdout).toBe(`${b}\n`);
    expect((await cli("-o", "json", "tasks", "--node", "filter-node")).stdout).toMatch(/^\{\n {2}"tasks": \[/);
  });
});

describe("--watch", () => {
  it("tasks --watch redraws when a task event arrives on the stream, and exits 0 on Ctrl-C", async () => {
    const watch = new CliProcess(["tasks", "--watch", "--repo", "watched"], { home, env: { MULTICLAUDE_COORD_URL: url } });
    await watch.waitFor(/no tasks/, "stderr");
    const id = (await cli("tasks", "create", "-q", "--repo", "watched", "--description", "seen live")).stdout.trim();
    await watch.waitFor(new RegExp(`^${id}\\s+pending\\s+.*seen live$`, "m"));
    expect(watch.stdout.match(/^ID\s/gm)).toHaveLength(1);
    expect((await cli("tasks", "cancel", id)).code).toBe(0);
    await watch.waitFor(new RegExp(`^${id}\\s+cancelled\\s`, "m"));
    expect(await watch.stop("SIGINT")).toBe(0);
  });

  it("nodes --watch redraws on node events", async () => {
    const watch = new CliProcess(["nodes", "--watch", "--label", "watch=yes"], { home, env: { MULTICLAUDE_COORD_URL: url } });
    await watch.waitFor(/no nodes registered/, "stderr");
    expect((await machine()("register", "--node-id", "watched-node", "--label", "watch=yes")).code).toBe(0);
    await watch.waitFor(/^watched-node\s+online\s+healthy\s/m);
    expect(await watch.stop("SIGINT")).toBe(0);
  });
});
