/**
 * DESIGN §14: when a coordinator answers with `Warning: 299` (an older one that ignored fields it
 * does not know), the real CLI prints each warning on stderr, once, and its output stays clean.
 * The coordinator here is a stand-in that answers like an older version would.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli, tempHome } from "../cli/harness.js";

let server: Server;
let url: string;
beforeAll(async () => {
  ensureBuilt();
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const data = { id: "task-1", repo: "r", description: "d", priority: "medium", labels: {}, status: "pending", attempts: 0, max_attempts: 3 };
      res.setHeader("content-type", "application/json");
      res.setHeader("warning", ['299 - "unknown field body.priority"', '299 - "unknown field body.labels"']);
      res.writeHead(201);
      res.end(JSON.stringify({ success: true, data }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}, 180_000);
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("CLI and Warning headers", () => {
  it("prints each warning on stderr and keeps stdout the JSON document", async () => {
    const home = tempHome();
    const r = await runCli(["--url", url, "--token", "t", "--json", "tasks", "create", "--repo", "r", "--description", "d", "--priority", "high", "--label", "pool=gpu"], {
      home,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: "task-1" });
    expect(r.stderr).toContain("warning: coordinator: unknown field body.priority");
    expect(r.stderr).toContain("warning: coordinator: unknown field body.labels");
    expect(r.stderr.match(/unknown field body\.priority/g)).toHaveLength(1);
  });
});
