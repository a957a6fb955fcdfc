/**
 * The SQLite store's file: one coordinator process at a time, whatever name it is opened by, and
 * its WAL checkpointed in small steps between commits (not inside the commit that crosses 1,000
 * pages), while staying small.
 */
import { closeSync, linkSync, mkdtempSync, openSync, readSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { waitFor } from "../fixtures/agent-harness.js";
import { CliProcess, ensureBuilt, runCli, tempHome } from "../cli/harness.js";
import { makeHarness } from "./conformance-harness.js";

const root = mkdtempSync(join(tmpdir(), "mcc-sqlite-file-"));
let n = 0;
const nextPath = () => join(root, `db-${++n}`, "coordination.db");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.parse("2030-01-01T00:00:00Z");
const size = (file: string) => statSync(file).size;

/** The WAL header's checkpoint sequence (bytes 12-15, big-endian): SQLite adds one at each restart of the WAL. */
function walSequence(file: string): number {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(16);
    readSync(fd, header, 0, 16, 0);
    return header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

async function createTasks(store: Store, count: number) {
  const h = makeHarness(store, { t: T0 });
  for (let i = 0; i < count; i++) await h.createTask({ description: `task ${i} ${"x".repeat(2000)}` });
  await h.coord.stop();
}

describe("SQLite store file", () => {
  it("is refused through a symlink or a hard link, and refuses an opener with exclusive locking that comes after it", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    await createTasks(store, 1);
    const soft = join(root, `soft-${n}.db`);
    const hard = join(root, `hard-${n}.db`);
    symlinkSync(path, soft);
    linkSync(path, hard);
    for (const other of [soft, hard]) {
      await expect(createSqliteStore(other)).rejects.toMatchObject({ code: "UNAVAILABLE", message: `store sqlite://${other} is in use by another coordinator process` });
    }
    // What an older version ran at open: it must not get the file either.
    const older = new Database(path, { timeout: 100 });
    older.pragma("locking_mode = EXCLUSIVE");
    expect(() => older.exec("BEGIN EXCLUSIVE; COMMIT")).toThrow(/locked/);
    older.close();
    // The store goes on after them.
    await createTasks(store, 1);
    expect(await store.countPending()).toBe(2);
    await store.close();
  });

  it("copies the WAL into the database in small steps between commits and starts the WAL over, so it stays small", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    const start = size(path);
    await createTasks(store, 20);
    const oneRound = size(`${path}-wal`);
    // Round after round the whole WAL is copied, and a later commit starts it over from its
    // beginning (the checkpoint sequence in its header counts the restarts) instead of growing.
    let extra = 0;
    for (let round = 0; round < 10; round++) {
      const seq = walSequence(`${path}-wal`);
      await createTasks(store, 20);
      await waitFor(
        async () => {
          await createTasks(store, 1);
          extra++;
          return walSequence(`${path}-wal`) !== seq;
        },
        `round ${round}'s WAL to be copied and started over`,
        10_000,
        20,
      );
    }
    // Far below the commits' own checkpoint threshold (10,000 pages), the data reached the database file.
    expect(size(path)).toBeGreaterThan(start);
    expect(size(`${path}-wal`)).toBeLessThan(3 * oneRound);
    await store.close();
    // Nothing was lost on the way: a reopen sees every task.
    const again = await createSqliteStore(path);
    expect(await again.countPending()).toBe(220 + extra);
    await again.close();
  });

  it("a second serve on the same file exits with one line naming the file; the first goes on", async () => {
    ensureBuilt();
    const home = tempHome();
    const db = join(home, "coord.db");
    const first = new CliProcess(["serve", "--store", `sqlite://${db}`, "--listen", "127.0.0.1:0"], { home });
    try {
      const url = (await first.waitFor(/listening on (http:\/\/\S+)/))[1]!;
      const second = await runCli(["serve", "--store", `sqlite://${db}`, "--listen", "127.0.0.1:0"], { home });
      expect(second.code).not.toBe(0);
      expect(second.stderr.trim().split("\n")).toEqual([expect.stringContaining(`store sqlite://${db} is in use by another coordinator process`)]);
      expect((await runCli(["tasks", "create", "--repo", "r", "--description", "x"], { home, env: { MULTICLAUDE_COORD_URL: url } })).code).toBe(0);
    } finally {
      expect(await first.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);
});
