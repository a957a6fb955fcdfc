/**
 * The SQLite store's file: one coordinator process at a time (a lock file), readable beside it
 * (an online backup), and its WAL checkpointed by a worker thread rather than inside commits,
 * while staying small.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
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
  it("can be read, and backed up, by another connection while the store runs", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    await createTasks(store, 3);
    const reader = new Database(path, { readonly: true });
    expect(reader.prepare("SELECT COUNT(*) AS n FROM tasks").get()).toEqual({ n: 3 });
    const copy = join(root, `backup-${n}.db`);
    await reader.backup(copy);
    reader.close();
    const backup = new Database(copy, { readonly: true });
    expect(backup.prepare("SELECT COUNT(*) AS n FROM tasks").get()).toEqual({ n: 3 });
    backup.close();
    // The store goes on after the reader: its next write and read work.
    await createTasks(store, 1);
    expect(await store.countPending()).toBe(4);
    await store.close();
  });

  it("is refused while an older version holds the database itself (locking_mode EXCLUSIVE, no lock file)", async () => {
    const path = nextPath();
    await (await createSqliteStore(path)).close();
    const older = new Database(path);
    older.pragma("locking_mode = EXCLUSIVE");
    older.pragma("journal_mode = WAL");
    older.exec("BEGIN EXCLUSIVE; COMMIT");
    await expect(createSqliteStore(path)).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: `store sqlite://${path} is in use by another coordinator process`,
    });
    older.close();
    // The failed open left nothing held: the file opens now.
    await (await createSqliteStore(path)).close();
  });

  it("copies the WAL into the database in the background and starts the WAL over, so it stays small", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    const start = size(path);
    await createTasks(store, 20);
    const oneRound = size(`${path}-wal`);
    // Far below the commits' own checkpoint threshold (10,000 pages), the data reaches the database file.
    await waitFor(() => size(path) > start, "the checkpoint worker to copy the WAL", 10_000, 20);
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
