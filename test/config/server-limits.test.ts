import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "mcc-limits-"));
  const file = join(dir, "coordination.yaml");
  writeFileSync(file, yaml);
  return loadConfig({ cwd: dir, env: { HOME: dir }, configPath: file });
}

describe("config: connection limits and the event log's size", () => {
  it("defaults to DESIGN §10: 10 s headers, 30 s body, 75 s idle, 20,000 connections, 2,000 per address, 64 MiB of events", async () => {
    const c = await load("coordination: {}\n");
    expect(c.server.connections).toEqual({
      headers_timeout_ms: 10_000,
      body_timeout_ms: 30_000,
      idle_timeout_ms: 75_000,
      max_connections: 20_000,
      max_connections_per_address: 2_000,
    });
    expect(c.server.events_max_bytes).toBe(64 * 1024 * 1024);
  });

  it("reads server.timeouts, the caps and events.max_bytes (a size with units or bytes)", async () => {
    const c = await load(
      "server:\n  timeouts: { headers: 5s, body: 1m, idle: 2m }\n  max_connections: 50000\n  max_connections_per_address: 0\nevents:\n  max_bytes: 256MiB\n",
    );
    expect(c.server.connections).toEqual({
      headers_timeout_ms: 5000,
      body_timeout_ms: 60_000,
      idle_timeout_ms: 120_000,
      max_connections: 50_000,
      max_connections_per_address: 0,
    });
    expect(c.server.events_max_bytes).toBe(256 * 1024 * 1024);
    expect((await load("events:\n  max_bytes: 1048576\n")).server.events_max_bytes).toBe(1_048_576);
  });

  it("names each bad value", async () => {
    const err = await load(
      "server:\n  timeouts: { headers: 30s, body: 10s, idel: 1m }\n  max_connections: 0\nevents:\n  max_bytes: lots\n",
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join("\n");
    expect(problems).toMatch(/server\.timeouts\.idel: unknown key/);
    expect(problems).toMatch(/server\.timeouts\.body: must be at least server\.timeouts\.headers/);
    expect(problems).toMatch(/server\.max_connections: expected a whole number from 1/);
    expect(problems).toMatch(/events\.max_bytes: expected a size/);
  });
});
