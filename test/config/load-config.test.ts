import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, resolveClientConfig, resolveServerConfig, tokenName } from "../../src/config/index.js";
import { classifyError } from "../../src/cli/errors.js";

let home: string;
let work: string;
let env: NodeJS.ProcessEnv;

function write(path: string, text: string): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

beforeEach(() => {
  const root = mkdtempSync(join(tmpdir(), "mcc-config-"));
  home = join(root, "home");
  work = join(root, "work", "repo", "sub");
  mkdirSync(home, { recursive: true });
  mkdirSync(work, { recursive: true });
  env = { HOME: home };
});

describe("loadConfig: where the file is found", () => {
  it("uses the defaults when there is no file anywhere", async () => {
    const c = await loadConfig({ cwd: work, env });
    expect(c.source).toBeUndefined();
    expect(c.server.listen).toEqual({ host: "0.0.0.0", port: 7331 });
    expect(c.server.store).toBe(`sqlite://${join(home, ".multiclaude", "coordination.db")}`);
    expect(c.server.heartbeat_interval_ms).toBe(30_000);
    expect(c.server.offline_threshold_ms).toBe(90_000);
    expect(c.server.claim_timeout_ms).toBe(300_000);
    expect(c.server.default_priority).toBe("medium");
    expect(c.server.max_attempts).toBe(3);
    expect(c.server.retry_backoff_ms).toBe(30_000);
    expect(c.server.events_retention).toBe(10_000);
    expect(c.server.retention).toEqual({ tasksMs: 30 * 86_400_000, messagesMs: 7 * 86_400_000, forgetAfterMs: 7 * 86_400_000 });
    expect(c.server.rate_limit).toEqual({ enabled: true, requests_per_second: 50, burst: 100, max_streams_per_token: 100 });
    expect(c.server.auth).toEqual({ required: true, tokens: [] });
    expect(c.server.audit).toEqual({ file: undefined, keep: 10 });
    expect(c.coordination.server_url).toBe("http://127.0.0.1:7331");
  });

  it("searches coordination.yaml upward from the working directory, before ~/.multiclaude", async () => {
    write(join(home, ".multiclaude", "coordination.yaml"), "coordination:\n  node_id: from-home\n");
    expect((await loadConfig({ cwd: work, env })).coordination.node_id).toBe("from-home");
    const up = write(join(work, "..", "..", "coordination.yaml"), "coordination:\n  node_id: from-parent\n");
    const c = await loadConfig({ cwd: work, env });
    expect(c.coordination.node_id).toBe("from-parent");
    expect(c.source).toBe(up);
  });

  it("prefers $MULTICLAUDE_COORD_CONFIG over the search, and --config over both", async () => {
    write(join(work, "coordination.yaml"), "coordination:\n  node_id: searched\n");
    const fromEnv = write(join(home, "env.yaml"), "coordination:\n  node_id: from-env\n");
    const fromFlag = write(join(home, "flag.yaml"), "coordination:\n  node_id: from-flag\n");
    env.MULTICLAUDE_COORD_CONFIG = fromEnv;
    expect((await loadConfig({ cwd: work, env })).coordination.node_id).toBe("from-env");
    expect((await loadConfig({ cwd: work, env, configPath: fromFlag })).coordination.node_id).toBe("from-flag");
  });

  it("fails when --config names a file that does not exist", async () => {
    const err = await configError(loadConfig({ cwd: work, env, configPath: "nope.yaml" }));
    expect(err.problems[0]).toMatch(/^--config: file .*nope\.yaml does not exist/);
  });
});

describe("loadConfig: values", () => {
  it("reads the PRD example with ${VAR} and ${VAR:-default} expanded", async () => {
    const file = write(
      join(work, "coordination.yaml"),
      `server:
  enabled: true
  listen_addr: "127.0.0.1:\${PORT:-9000}"
  auth:
    tokens:
      - "\${COORD_TOKEN_1}"
      - token: "\${READER:-reader-secret}"
        role: read
        name: dashboard
    require_auth: true
registration:
  heartbeat_interval: 10s
  offline_threshold: 1m
tasks:
  default_priority: high
  claim_timeout: 5m
store: memory://
coordination:
  server_url: "https://coordinator.example.com:7331"
  token: "\${COORD_TOKEN_1}"
  node_id: machine-b
  labels:
    pool: gpu
    region: us-west-2
  max_workers: 5
`,
    );
    const c = await loadConfig({ cwd: work, env: { ...env, COORD_TOKEN_1: "s3cret" } });
    expect(c.source).toBe(file);
    expect(c.server.listen).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(c.server.auth.tokens).toEqual([
      { token: "s3cret", role: "admin", name: tokenName("s3cret") },
      { token: "reader-secret", role: "read", name: "dashboard" },
    ]);
    expect(tokenName("s3cret")).not.toContain("s3cret");
    expect(c.server.heartbeat_interval_ms).toBe(10_000);
    expect(c.server.offline_threshold_ms).toBe(60_000);
    expect(c.server.default_priority).toBe("high");
    expect(c.server.store).toBe("memory://");
    expect(c.coordination).toMatchObject({ token: "s3cret", node_id: "machine-b", labels: { pool: "gpu", region: "us-west-2" }, max_workers: 5 });
  });

  it("parses listen addresses: :PORT means every interface", async () => {
    write(join(work, "coordination.yaml"), 'server:\n  listen_addr: ":7444"\n');
    expect((await loadConfig({ cwd: work, env })).server.listen).toEqual({ host: "0.0.0.0", port: 7444 });
    write(join(work, "coordination.yaml"), 'server:\n  listen_addr: "[::1]:7445"\n');
    expect((await loadConfig({ cwd: work, env })).server.listen).toEqual({ host: "::1", port: 7445 });
  });

  it("reports every problem of a bad file at once, one line per key", async () => {
    write(
      join(work, "coordination.yaml"),
      `server:
  listen_addr: "localhost:99999"
  auth:
    tokens: ["\${MISSING_TOKEN}"]
  rate_limt: {}
registration:
  heartbeat_interval: soon
tasks:
  default_priority: urgent
  max_attempts: 0
  retry_backoff: 1h
coordination:
  server_url: coordinator:7331
`,
    );
    const err = await configError(loadConfig({ cwd: work, env }));
    expect(err.problems).toEqual([
      expect.stringMatching(/^server\.auth\.tokens\[0\]: environment variable MISSING_TOKEN is not set/),
      expect.stringMatching(/^server\.rate_limt: unknown key/),
      expect.stringMatching(/^server\.listen_addr: port must be 0-65535/),
      expect.stringMatching(/^registration\.heartbeat_interval: invalid duration "soon"/),
      expect.stringMatching(/^tasks\.default_priority: expected one of critical, high, medium, low/),
      expect.stringMatching(/^tasks\.max_attempts: expected a whole number/),
      expect.stringMatching(/^tasks\.retry_backoff: must be at most 15m, got "1h"/),
      expect.stringMatching(/^coordination\.server_url: expected an http/),
    ]);
    expect(err.message.split("\n")).toHaveLength(9);
    // The CLI turns it into exit code 2 with that message.
    expect(classifyError(err).exitCode).toBe(2);
  });

  it("refuses mTLS settings that would let strangers in", async () => {
    write(
      join(work, "coordination.yaml"),
      `server:
  tls:
    enabled: true
    cert_file: /c.pem
    key_file: /k.pem
    client_auth: require
  trust_proxy: "everyone"
`,
    );
    const err = await configError(loadConfig({ cwd: work, env }));
    expect(err.problems).toEqual([
      "server.tls.ca_file: is required when client_auth is require",
      expect.stringMatching(/^server\.trust_proxy: expected true\/false, a hop count, or a list/),
    ]);
    write(join(work, "coordination.yaml"), "server:\n  tls:\n    client_auth: require\n    ca_file: /ca.pem\n");
    expect((await configError(loadConfig({ cwd: work, env }))).problems).toEqual(["server.tls.client_auth: require needs tls.enabled: true"]);
  });

  it("reads trust_proxy as a switch, a hop count or a list of addresses", async () => {
    for (const [yaml, value] of [["true", true], ["2", 2], ['["10.0.0.0/8", "127.0.0.1"]', ["10.0.0.0/8", "127.0.0.1"]]] as const) {
      write(join(work, "coordination.yaml"), `server:\n  trust_proxy: ${yaml}\n`);
      expect((await loadConfig({ cwd: work, env })).server.trust_proxy).toEqual(value);
    }
  });

  it("reads retention durations in days, 0 keeps forever, and refuses what is not a duration", async () => {
    write(join(work, "coordination.yaml"), "tasks:\n  retention: 90d\nmessages:\n  retention: 0\nregistration:\n  forget_after: 1d12h\n");
    expect((await loadConfig({ cwd: work, env })).server.retention).toEqual({ tasksMs: 90 * 86_400_000, messagesMs: 0, forgetAfterMs: 36 * 3_600_000 });
    write(join(work, "coordination.yaml"), "tasks:\n  retention: forever\nmessages:\n  retention: -1d\n  keep: 3\nregistration:\n  forget_after: 99999d\n");
    expect((await configError(loadConfig({ cwd: work, env }))).problems).toEqual([
      "messages.keep: unknown key (expected one of retention)",
      expect.stringMatching(/^tasks\.retention: invalid duration "forever"/),
      expect.stringMatching(/^messages\.retention: invalid duration "-1d"/),
      'registration.forget_after: must be at most 36500d, got "99999d"',
    ]);
    write(join(work, "coordination.yaml"), "registration:\n  heartbeat_interval: 0\n");
    expect((await configError(loadConfig({ cwd: work, env }))).problems[0]).toMatch(/^registration\.heartbeat_interval: must be more than zero/);
  });

  it("reports YAML syntax errors with the line", async () => {
    write(join(work, "coordination.yaml"), "server:\n  listen_addr: [unclosed\n");
    const err = await configError(loadConfig({ cwd: work, env }));
    expect(err.problems[0]).toMatch(/^line \d+, column \d+: /);
  });
});

describe("layering: flags > env > file > defaults", () => {
  it("applies env over the file and flags over env", async () => {
    write(join(work, "coordination.yaml"), "coordination:\n  server_url: http://file:1\n  token: file-token\n");
    const c = await loadConfig({ cwd: work, env });
    expect(resolveClientConfig(c, {}, env)).toMatchObject({ server_url: "http://file:1", token: "file-token", token_source: "config" });
    const withEnv = { ...env, MULTICLAUDE_COORD_URL: "http://env:2", MULTICLAUDE_COORD_TOKEN: "env-token" };
    expect(resolveClientConfig(c, {}, withEnv)).toMatchObject({ server_url: "http://env:2", token: "env-token", token_source: "env" });
    expect(resolveClientConfig(c, { url: "http://flag:3", token: "flag-token", timeoutSeconds: 2 }, withEnv)).toMatchObject({
      server_url: "http://flag:3",
      token: "flag-token",
      token_source: "flag",
      timeout_ms: 2000,
    });
  });

  it("falls back to the token file that serve wrote when no token is given anywhere", async () => {
    write(join(home, ".multiclaude", "coordination-token"), "mcc_local\n");
    const c = await loadConfig({ cwd: work, env });
    expect(resolveClientConfig(c, {}, env)).toMatchObject({ token: "mcc_local", token_source: "token-file" });
  });

  it("validates serve's --listen and --store", async () => {
    const c = await loadConfig({ cwd: work, env });
    expect(resolveServerConfig(c, { listen: "127.0.0.1:0", store: "memory://" })).toMatchObject({ listen: { host: "127.0.0.1", port: 0 }, store: "memory://" });
    expect(() => resolveServerConfig(c, { listen: "a:b:c", store: "mysql://x" })).toThrow(ConfigError);
  });
});
