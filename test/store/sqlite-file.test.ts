/**
 * The SQLite store's file: one coordinator process at a time, whatever name it is opened by, and
 * its WAL checkpointed in small steps between commits (not inside the commit that crosses 1,000
 * pages), while staying small.
 */
import { execFileSync } from "node:child_process";
import { closeSync, linkSync, mkdtempSync, openSync, readSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { nextSpacing } from "../../src/store/sqlite-checkpoints.js";
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

const betterSqlite = createRequire(import.meta.url).resolve("better-sqlite3");

/** Whether another process can open `file`: with `locking_mode = EXCLUSIVE` as an older version did, or as a reader. */
function otherProcessOpens(file: string, how: "exclusive" | "read"): "opened" | "refused" {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite)});
    const db = new Database(process.argv[1], { timeout: 200, readonly: process.argv[2] === "read" });
    try {
      if (process.argv[2] === "read") db.prepare("SELECT COUNT(*) FROM tasks").get();
      else { db.pragma("locking_mode = EXCLUSIVE"); db.exec("BEGIN EXCLUSIVE; COMMIT"); }
      process.stdout.write("opened");
    } catch (err) {
      process.stdout.write(err.code === "SQLITE_BUSY" ? "refused" : String(err));
    }`;
  return execFileSync(process.execPath, ["-e", script, file, how], { encoding: "utf8" }) as "opened" | "refused";
}

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
  it("holds the file against other processes, by any name, also after an open in this process was refused", async () => {
    const path = nextPath();
    const store = await createSqliteStore(path);
    await createTasks(store, 1);
    const soft = join(root, `soft-${n}.db`);
    const hard = join(root, `hard-${n}.db`);
    symlinkSync(path, soft);
    linkSync(path, hard);
    // A refused open in this process (by each name) must not let the file go.
    for (const other of [path, soft, hard]) {
      await expect(createSqliteStore(other)).rejects.toMatchObject({ code: "UNAVAILABLE", message: `store sqlite://${other} is in use by another coordinator process` });
    }
    // Another process, with what an older version ran at open, or as a plain reader: refused by every name.
    for (const other of [path, soft, hard]) {
      expect(otherProcessOpens(other, "exclusive"), `exclusive open of ${other}`).toBe("refused");
      expect(otherProcessOpens(other, "read"), `read of ${other}`).toBe("refused");
    }
    // The store goes on after them.
    await createTasks(store, 1);
    expect(await store.countPending()).toBe(2);
    await store.close();
    expect(otherProcessOpens(path, "exclusive")).toBe("opened");
  });

  it("spaces step checkpoints so each copies about a millisecond's worth, and a slow disk's fsyncs take at most 5 % of the time", () => {
    // A model disk: a step costs a fixed fsync time plus a copy time per page; commits add pages at a steady rate.
    const run = (fixedMs: number, perPageMs: number, pagesPerMs: number) => {
      let spacing = 50;
      let took = 0;
      for (let i = 0; i < 60; i++) {
        const pages = Math.round(pagesPerMs * spacing);
        took = fixedMs + perPageMs * pages;
        spacing = nextSpacing(spacing, took, pages);
      }
      return { spacing, took, share: took / (spacing + took) };
    };
    // A fast disk under a high commit rate: steps get closer together and stay short (no run-away).
    const busy = run(0.25, 0.014, 4);
    expect(busy.took).toBeLessThan(2);
    expect(busy.spacing).toBeLessThan(50);
    // A fast disk, few commits: steps drift apart up to once a second.
    expect(run(0.25, 0.014, 0.001).spacing).toBe(1000);
    // A slow disk (5 ms fsyncs), few pages a step: spaced out to at most 5 % of the time.
    const slow = run(5, 0.014, 0.05);
    expect(slow.share).toBeLessThanOrEqual(0.05);
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
