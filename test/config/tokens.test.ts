import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "mcc-tokens-"));
let n = 0;

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig({ configPath: file, env: { HOME: dir, ...env } });
}

async function problems(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const err = await load(yaml, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

/** The ```yaml blocks of the README that configure tokens, as a user would copy them. */
function readmeTokenExamples(): string[] {
  const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
  return [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((y) => y.includes("tokens:"));
}

describe("token entries", () => {
  it("skips an entry whose token expands to nothing, with one warning, and keeps the others", async () => {
    const c = await load(
      `server:\n  auth:\n    tokens:\n      - "\${ADMIN}"\n      - { token: "\${NODE}", role: node, name: ci-runners }\n      - { token: "\${COORD_READ_TOKEN:-}", role: read, name: dashboard }\n`,
      { ADMIN: "a-secret", NODE: "n-secret" },
    );
    expect(c.server.auth.tokens.map((t) => t.name)).toEqual([expect.stringMatching(/^token-/), "ci-runners"]);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(/^server\.auth\.tokens\[2\]\.token: .*"dashboard" is skipped/);
    expect(c.warnings[0]).not.toContain("secret");
  });

  it("still refuses an entry without any token, and a variable without default that is unset", async () => {
    expect(await problems(`server:\n  auth:\n    tokens:\n      - { role: read, name: dashboard }\n`)).toEqual([
      "server.auth.tokens[0].token: is required",
    ]);
    const p = await problems(`server:\n  auth:\n    tokens:\n      - { token: "\${NOT_SET}", role: read }\n`);
    expect(p[0]).toMatch(/^server\.auth\.tokens\[0\]\.token: environment variable NOT_SET is not set/);
  });

  it("loads every README example with the optional COORD_READ_TOKEN unset", async () => {
    const examples = readmeTokenExamples();
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const yaml of examples) {
      const c = await load(yaml, { COORD_ADMIN_TOKEN: "admin-x", COORD_NODE_TOKEN: "node-x" });
      expect(c.server.auth.tokens.map((t) => t.role)).toEqual(["admin", "node"]);
      expect(c.warnings).toEqual([expect.stringContaining("dashboard")]);
      // With it set, the read token is there and nothing is said.
      const full = await load(yaml, { COORD_ADMIN_TOKEN: "admin-x", COORD_NODE_TOKEN: "node-x", COORD_READ_TOKEN: "read-x" });
      expect(full.server.auth.tokens.map((t) => t.role)).toEqual(["admin", "node", "read"]);
      expect(full.warnings).toEqual([]);
    }
  });
});

describe("nodes: globs on node tokens", () => {
  it("keeps the globs of a node token; no globs means any node", async () => {
    const c = await load(
      `server:\n  auth:\n    tokens:\n      - { token: n1, role: node, name: ci, nodes: ["ci-runner-*", "build-?"] }\n      - { token: n2, role: node, name: any }\n`,
    );
    expect(c.server.auth.tokens).toEqual([
      { token: "n1", role: "node", name: "ci", nodes: ["ci-runner-*", "build-?"] },
      { token: "n2", role: "node", name: "any" },
    ]);
  });

  it("refuses globs on other roles and globs with characters no node id has", async () => {
    const p = await problems(
      `server:\n  auth:\n    tokens:\n      - { token: a1, role: admin, nodes: ["x"] }\n      - { token: n1, role: node, nodes: ["ci/*"] }\n      - { token: n2, role: node, nodes: [] }\n`,
    );
    expect(p).toEqual([
      "server.auth.tokens[0].nodes: only node tokens are bound to nodes (this token's role is admin)",
      expect.stringMatching(/^server\.auth\.tokens\[1\]\.nodes: expected a non-empty list of node-id globs/),
      expect.stringMatching(/^server\.auth\.tokens\[2\]\.nodes: expected a non-empty list/),
    ]);
  });
});

describe("server.audit", () => {
  it("keep: how many rotated files of each audit file stay (default 10)", async () => {
    expect((await load("server:\n  audit:\n    file: /tmp/a.log\n    keep: 30\n")).server.audit).toEqual({ file: "/tmp/a.log", keep: 30 });
    expect(await problems("server:\n  audit:\n    keep: 0\n")).toEqual([expect.stringMatching(/^server\.audit\.keep: expected a whole number from 1 to 1000/)]);
  });
});
