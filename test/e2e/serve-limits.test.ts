/**
 * Issue 11, defect 2, through the real binary and its config file: `server.timeouts` reach the
 * sockets (a body that never arrives is answered 408 in the envelope and closed), and `serve`
 * warns at start when the open-file limit cannot hold `server.max_connections`.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../cli/harness.js";
import { cleanupTemp, tempDir, TOKEN } from "../helpers/cluster.js";
import { openRaw, responseBody } from "../helpers/raw-socket.js";
import { BIN, spawnServe, type ServeProcess } from "../helpers/serve-process.js";

let serve: ServeProcess | undefined;
let home: string;
let config: string;

beforeAll(async () => {
  ensureBuilt();
  home = tempDir("mcc-serve-limits-");
  config = join(home, "coordination.yaml");
  writeFileSync(
    config,
    `server:\n  auth:\n    tokens: ["${TOKEN}"]\n  timeouts: { headers: 1s, body: 2s, idle: 5s }\n  max_connections: 100\n`,
  );
  serve = await spawnServe(["--listen", "127.0.0.1:0", "--store", "memory://", "--config", config], { home });
}, 120_000);

afterAll(async () => {
  await serve?.stop();
  cleanupTemp();
});

describe("serve's connection limits from its config (issue 11, defect 2)", () => {
  it("a body announced as 100,000 bytes that never arrives: 408 in the envelope, closed within server.timeouts.body", async () => {
    const c = await openRaw(serve!.url);
    c.send(`POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
    const ms = await c.closed;
    expect(ms).toBeLessThan(2000 + 5000);
    expect(c.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(responseBody(c.received)).toMatchObject({ success: false, code: "REQUEST_TIMEOUT" });
  });

  it("warns at start when the open-file limit is below max_connections + 256, and says how to raise it", async () => {
    // A shell lowers the limit for the child only: `serve` must find it out for itself.
    const child = spawn("sh", ["-c", `ulimit -n 200 && exec "${process.execPath}" "${BIN}" serve --listen 127.0.0.1:0 --store memory:// --config "${config}"`], {
      env: { ...process.env, HOME: home, MULTICLAUDE_COORD_CONFIG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d));
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    try {
      const deadline = Date.now() + 15_000;
      while (!/listening on/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 25));
      expect(out).toMatch(/listening on/);
      expect(err).toMatch(/warning: the open-file limit is 200, below server\.max_connections \(100\) \+ 256.*ulimit -n 356/);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
