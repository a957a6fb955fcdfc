/**
 * `nodes forget ID`, and `nodes` / `messages list` paging, through the real binary against a real
 * `serve` (DESIGN §10). Exit codes per docs/cli.md: 0 ok, 3 not found, 5 forbidden.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliProcess, ensureBuilt, runCli, tempHome } from "../cli/harness.js";

let serve: CliProcess | undefined;
let url: string;
const home = tempHome();
const machine = tempHome();

const as = (token: string, where = home) => (...args: string[]) => runCli(args, { home: where, env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: token } });
const admin = as("admin-secret");
const node = as("node-secret", machine);

beforeAll(async () => {
  ensureBuilt();
  const config = join(home, "coordination.yaml");
  writeFileSync(
    config,
    [
      "server:",
      "  auth:",
      "    tokens:",
      '      - { token: "admin-secret", role: admin, name: lead }',
      '      - { token: "node-secret", role: node, name: fleet }',
      "store: memory://",
      "",
    ].join("\n"),
  );
  serve = new CliProcess(["serve", "--config", config, "--listen", "127.0.0.1:0"], { home });
  url = (await serve.waitFor(/listening on (http:\/\/\S+)/))[1]!;
}, 120_000);

afterAll(async () => {
  await serve?.stop("SIGTERM");
});

describe("nodes forget, and paged nodes / messages list", () => {
  it("pages nodes with --limit / --cursor (with a hint in the human output), --all follows them", async () => {
    for (const id of ["box-1", "box-2", "box-3"]) expect((await node("register", "-q", "--node-id", id)).code).toBe(0);
    const first = await admin("nodes", "--limit", "2");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/box-1/);
    expect(first.stdout).not.toMatch(/box-3/);
    // The hint is on stderr (issue 13: stdout holds only the table).
    expect(first.stderr).toMatch(/more: --cursor box-2 \(or --all\)/);
    const rest = JSON.parse((await admin("--json", "nodes", "--limit", "2", "--cursor", "box-2")).stdout);
    expect(rest).toMatchObject({ nodes: [{ id: "box-3" }], next_cursor: null });
    const all = JSON.parse((await admin("--json", "nodes", "--limit", "1", "--all")).stdout);
    expect(all.nodes.map((n: { id: string }) => n.id)).toEqual(["box-1", "box-2", "box-3"]);
    expect(all.next_cursor).toBeNull();
    expect((await admin("nodes", "--limit", "1001")).code).toBe(2);
  });

  it("pages messages the same way", async () => {
    for (let i = 0; i < 3; i++) expect((await admin("messages", "send", "--from", "lead@hq", "--to", `w@box-3`, "--body", `m${i}`)).code).toBe(0);
    const page = JSON.parse((await admin("--json", "messages", "list", "--node", "box-3", "--limit", "2")).stdout);
    expect(page.messages.map((m: { body: string }) => m.body)).toEqual(["m0", "m1"]);
    expect(page.next_cursor).toBe(page.messages[1].id);
    expect((await admin("messages", "list", "--node", "box-3", "--limit", "2")).stderr).toContain(`more: --cursor ${page.next_cursor}`);
    const all = JSON.parse((await admin("--json", "messages", "list", "--node", "box-3", "--limit", "1", "--all")).stdout);
    expect(all.messages.map((m: { body: string }) => m.body)).toEqual(["m0", "m1", "m2"]);
  });

  it("nodes forget: 0 and a one-line answer; 3 when unknown; 5 with a node token", async () => {
    const denied = await node("nodes", "forget", "box-3");
    expect(denied.code).toBe(5);
    expect(denied.stderr.trim().split("\n")).toHaveLength(1);
    const done = await admin("nodes", "forget", "box-3");
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/forgot node box-3/);
    expect(JSON.parse((await admin("--json", "messages", "list", "--node", "box-3")).stdout).messages).toEqual([]);
    const again = await admin("nodes", "forget", "box-3");
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/node box-3 not found/);
    expect(JSON.parse((await admin("--json", "nodes", "forget", "box-2")).stdout)).toEqual({ node_id: "box-2", released_tasks: [] });
    expect(JSON.parse((await admin("--json", "nodes")).stdout).nodes.map((n: { id: string }) => n.id)).toEqual(["box-1"]);
  });
});
