/**
 * The SQLite store's file belongs to one coordinator process at a time, whatever name it is
 * opened by: checked from other processes, which is where a dropped POSIX lock shows.
 */
import { execFileSync } from "node:child_process";
import { linkSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { CliProcess, ensureBuilt, runCli, tempHome } from "../cli/harness.js";
import { makeHarness } from "./conformance-harness.js";

const root = mkdtempSync(join(tmpdir(), "mcc-sqlite-file-"));
let n = 0;
const nextPath = () => join(root, `db-${++n}`, "coordination.db");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.parse("2030-01-01T00:00:00Z");

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

async function createTasks(store: Store, count: number) {
  const h = makeHarness(store, { t: T0 });
  for (let i = 0; i < count; i++) await h.createTask({ description: `task ${i}` });
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
