/**
 * Issue 11, defect 6: faults of a real SQLite file are answers, not 500s. A full disk is a real
 * tmpfs of 2 MiB mounted by the test, and a read-only database is that tmpfs remounted
 * read-only; both need root (mount), so without it the suite is skipped and says why. A file
 * made read-only by its mode is tested without root (root ignores file modes).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite.js";
import { registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("store-faults: not root, so no tmpfs can be mounted: the full-disk and read-only-mount cases are skipped");

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close().catch(() => {});
  server = undefined;
});

/** Fills the file system under `dir` to the last byte; returns the filler file. */
function fillDisk(dir: string): string {
  const file = join(dir, "filler");
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  // Smaller writes fill what is left of the last block.
  const tail = openSync(file, "a");
  try {
    for (;;) writeSync(tail, Buffer.alloc(512, 1));
  } catch {
    // full
  } finally {
    closeSync(tail);
  }
  return file;
}

/** Creates tasks until one is refused; every answer must be a 201 or a 503 UNAVAILABLE. */
async function createUntilRefused(s: TestServer): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const res = await s.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "r", description: `${i} ${"x".repeat(60_000)}` } });
    if (res.status === 201) continue;
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    return res.body;
  }
  throw new Error("the store never refused a write");
}

async function expectServing(s: TestServer): Promise<void> {
  expect((await s.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "r", description: "after" } })).status).toBe(201);
  expect((await s.api("GET", "/ready", { token: null })).status).toBe(200);
}

describe.skipIf(!isRoot)("SQLite on a tmpfs the test mounts (root)", () => {
  let mnt: string;
  beforeAll(() => {
    mnt = mkdtempSync(join(tmpdir(), "mcc-tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]);
  });
  afterAll(() => {
    execFileSync("umount", ["-l", mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it("a full disk answers 503 UNAVAILABLE (retry_safe), /ready says so, /health stays up; freeing space recovers", async () => {
    server = await startTestServer({ store: await createSqliteStore(join(mnt, "full", "coordination.db")) });
    await registerNode(server, "n1");
    const filler = fillDisk(mnt);
    try {
      const refused = await createUntilRefused(server);
      expect(refused).toMatchObject({ success: false, code: "UNAVAILABLE", details: { retry_safe: true, store_error: expect.stringMatching(/^SQLITE_(FULL|IOERR)/) } });
      const ready = await server.api("GET", "/ready", { token: null });
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ success: false, code: "UNAVAILABLE" });
      expect((await server.api("GET", "/health", { token: null })).status).toBe(200);
      expect((await server.api("GET", "/tasks", { token: TOKENS.read })).status).toBe(200);
    } finally {
      rmSync(filler);
    }
    await expectServing(server);
  });

  it("a database on a file system that is read-only is refused at open with UNAVAILABLE, naming it", async () => {
    const path = join(mnt, "ro", "coordination.db");
    await (await createSqliteStore(path)).close();
    // Remounting read-only needs no file open for writing, so the store is closed first.
    execFileSync("mount", ["-o", "remount,ro", mnt]);
    try {
      const err = await createSqliteStore(path).then(
        (s) => s.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/read-only|readonly|EROFS/i) });
    } finally {
      execFileSync("mount", ["-o", "remount,rw", mnt]);
    }
  });
});

describe.skipIf(isRoot)("SQLite on a read-only file (not root: root ignores file modes)", () => {
  it("is refused at open with UNAVAILABLE, or its writes answer 503 UNAVAILABLE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcc-ro-"));
    const path = join(dir, "coordination.db");
    await (await createSqliteStore(path)).close();
    chmodSync(path, 0o444);
    try {
      const opened = await createSqliteStore(path).catch((e: unknown) => e);
      if (opened instanceof Error) {
        expect(opened).toMatchObject({ code: "UNAVAILABLE" });
        return;
      }
      server = await startTestServer({ store: opened as Awaited<ReturnType<typeof createSqliteStore>> });
      const refused = await createUntilRefused(server);
      expect(refused).toMatchObject({ code: "UNAVAILABLE", details: { retry_safe: true } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
