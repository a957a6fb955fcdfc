import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createCoordinator } from "../../src/coordinator/index.js";
import { createStore, sqlitePathOf } from "../../src/store/index.js";
import { findRedisServer, startRedisServer } from "../helpers/redis-server.js";

const root = mkdtempSync(join(tmpdir(), "mcc-create-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("createStore(url)", () => {
  it("opens memory:// and sqlite:// stores", async () => {
    const memory = await createStore("memory://");
    expect(memory.backend).toBe("memory");
    await memory.close();
    const sqlite = await createStore(`sqlite://${join(root, "a", "c.db")}`, { retention: 5 });
    expect(sqlite.backend).toBe("sqlite");
    await sqlite.close();
  });

  it("reads sqlite paths: absolute, relative and in the home folder", () => {
    expect(sqlitePathOf("sqlite:///var/lib/c.db")).toBe("/var/lib/c.db");
    expect(sqlitePathOf("sqlite://data/c.db")).toBe("data/c.db");
    expect(sqlitePathOf("sqlite://~/c.db")).toBe(join(process.env.HOME!, "c.db"));
  });

  it.each([
    ["postgres://db/x", /unsupported scheme/],
    ["coordination.db", /missing scheme/],
    ["", /missing scheme/],
    ["sqlite://", /needs a file path/],
    ["memory://extra", /takes no path/],
    ["redis://:pw@localhost:6379/x", /must be a number/],
    ["redis://", /needs a host/],
  ])("rejects %j with INVALID_REQUEST", async (url, message) => {
    const err = await createStore(url).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INVALID_REQUEST", message });
    expect((err as Error).message).not.toContain(":pw@");
  });

  it("answers UNAVAILABLE when Redis cannot be reached", async () => {
    // Port 1 on loopback: nothing listens there.
    await expect(createStore("redis://127.0.0.1:1/0")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe.skipIf(!findRedisServer() && !process.env.CI)("createStore(redis://…?prefix=)", () => {
  it("keeps deployments with different prefixes apart in one Redis database", async () => {
    const redis = await startRedisServer();
    try {
      const a = await createStore(`redis://127.0.0.1:${redis.port}/0?prefix=team-a:`);
      const b = await createStore(`redis://127.0.0.1:${redis.port}/0?prefix=team-b:`);
      const coordA = createCoordinator({ store: a });
      await coordA.tasks.create({ repo: "r", description: "only in team a" });
      expect((await a.counts()).tasks.pending).toBe(1);
      expect((await b.counts()).tasks.pending).toBe(0);
      expect((await b.eventBounds()).last_id).toBe(0);
      await coordA.stop();
      await a.close();
      await b.close();
      await expect(createStore(`redis://127.0.0.1:${redis.port}/0?prefix=bad%20prefix`)).rejects.toMatchObject({ code: "INVALID_REQUEST" });
    } finally {
      await redis.stop();
    }
  });
});
