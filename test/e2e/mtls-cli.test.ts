import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeConfig } from "../../src/config/index.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { makeTestCerts, type TestCerts } from "../helpers/certs.js";
import { BIN } from "../helpers/serve-process.js";

const TOKEN = "mtls-cli-token";

describe("the CLI over mTLS (real binary)", () => {
  let dir: string;
  let certs: TestCerts;
  let server: RunningServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-mtls-cli-"));
    certs = makeTestCerts(dir);
    const problems: string[] = [];
    const config = normalizeConfig(
      {
        server: {
          listen_addr: "127.0.0.1:0",
          auth: { tokens: [TOKEN] },
          tls: { enabled: true, cert_file: certs.serverCert, key_file: certs.serverKey, ca_file: certs.ca, client_auth: "require" },
        },
        store: "memory://",
      },
      { HOME: dir },
      problems,
    );
    expect(problems).toEqual([]);
    server = await startServer(config.server, { log: () => {}, env: { HOME: dir } });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI as its own process; async, since the server answers from this process. */
  function cli(coordination: Record<string, string>, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const file = join(dir, `client-${Object.keys(coordination).join("-") || "none"}.yaml`);
    const lines = Object.entries({ server_url: server.url, token: TOKEN, ...coordination }).map(([k, v]) => `  ${k}: "${v}"`);
    writeFileSync(file, `coordination:\n${lines.join("\n")}\n`);
    const child = spawn(process.execPath, [BIN, "--config", file, ...args], {
      env: { ...process.env, HOME: dir, NO_COLOR: "1", MULTICLAUDE_COORD_URL: "", MULTICLAUDE_COORD_TOKEN: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  }

  it("works with the CA and a client certificate from the coordination config", async () => {
    const run = await cli({ ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey }, "--json", "status");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ store: "memory" });
  });

  it("without a client certificate the handshake fails: one line on stderr, exit 6", async () => {
    const run = await cli({ ca_file: certs.ca }, "status");
    expect(run.status).toBe(6);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/client certificate|TLS handshake|connection reset/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it("without the CA the server's certificate is not trusted: exit 6", async () => {
    const run = await cli({ cert_file: certs.clientCert, key_file: certs.clientKey }, "status");
    expect(run.status).toBe(6);
    expect(run.stderr).toMatch(/certificate is not trusted \(set coordination.ca_file/);
  });
});
