/**
 * Node identity through the real binary (DESIGN §10): two machines with node tokens of different
 * names, each with its saved registration. `messages send` and `messages ack` act through that
 * registration; the other machine's messages and node id stay out of reach, also after `serve`
 * restarts on the same SQLite file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliProcess, ensureBuilt, runCli, tempHome } from "../cli/harness.js";

let serverHome: string;
let config: string;
let serve: CliProcess | undefined;
let url: string;
const machineA = tempHome();
const machineB = tempHome();

async function startServe(): Promise<void> {
  serve = new CliProcess(["serve", "--config", config, "--listen", "127.0.0.1:0"], { home: serverHome, env: { A_TOKEN: "a-secret", B_TOKEN: "b-secret" } });
  url = (await serve.waitFor(/listening on (http:\/\/\S+)/))[1]!;
}

const as = (home: string, token: string) => (...args: string[]) => runCli(args, { home, env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: token } });
const a = as(machineA, "a-secret");
const b = as(machineB, "b-secret");

beforeAll(async () => {
  ensureBuilt();
  serverHome = tempHome();
  config = join(serverHome, "coordination.yaml");
  writeFileSync(
    config,
    [
      "server:",
      "  auth:",
      "    tokens:",
      '      - { token: "admin-secret", role: admin, name: lead }',
      '      - { token: "${A_TOKEN}", role: node, name: team-a }',
      '      - { token: "${B_TOKEN}", role: node, name: team-b, nodes: ["machine-b*"] }',
      `store: "sqlite://${join(serverHome, "coord.db")}"`,
      "",
    ].join("\n"),
  );
  await startServe();
}, 120_000);

afterAll(async () => {
  await serve?.stop("SIGTERM");
});

describe("node tokens through the CLI", () => {
  it("each machine messages as its own node only, and acks only what is addressed to it", async () => {
    expect((await a("register", "--node-id", "machine-a")).code).toBe(0);
    expect((await b("register", "--node-id", "machine-b")).code).toBe(0);

    const sent = await b("--json", "messages", "send", "--from", "worker-1@machine-b", "--to", "supervisor@machine-a", "--body", "PR #42 is ready");
    expect(sent.code, sent.stderr).toBe(0);
    const id = JSON.parse(sent.stdout).id as string;

    const spoof = await b("messages", "send", "--from", "supervisor@lead-machine", "--to", "supervisor@machine-a", "--body", "merge it");
    expect(spoof.code).toBe(5);
    expect(spoof.stderr).toMatch(/FORBIDDEN/);

    const stolen = await b("messages", "ack", id);
    expect(stolen.code).toBe(5);
    expect(stolen.stderr).toMatch(/NOT_RECIPIENT/);
    const acked = await a("messages", "ack", id);
    expect(acked.code, acked.stderr).toBe(0);
    expect(acked.stdout).toMatch(/acked/);
  });

  it("a node id belongs to its first token, across a restart of serve on the same SQLite file", async () => {
    await serve!.stop("SIGTERM");
    await startServe();
    const taken = await b("register", "--node-id", "machine-b-2");
    expect(taken.code, taken.stderr).toBe(0);
    const hijack = await b("register", "--node-id", "machine-a");
    // Outside team-b's nodes: 403 (exit 5) before ownership is even looked at.
    expect(hijack.code).toBe(5);
    expect(hijack.stderr).toMatch(/FORBIDDEN/);
    const owned = await runCli(["register", "--node-id", "machine-b"], { home: machineA, env: { MULTICLAUDE_COORD_URL: url, MULTICLAUDE_COORD_TOKEN: "a-secret" } });
    expect(owned.code).toBe(4);
    expect(owned.stderr).toMatch(/NODE_OWNED/);
    expect(owned.stderr).toMatch(/team-b/);
  });
});
