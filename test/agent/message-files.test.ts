import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recordedText, useRecordings } from "../helpers/recordings.js";
import { mcMessageId, messageFileName, messageFilePath, messageRepo, writeMessageFile } from "../../src/agent/message-files.js";
import type { Message } from "../../src/core/types.js";

const home = mkdtempSync(join(tmpdir(), "mcc-msg-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const message: Message = {
  id: "msg-00abc",
  from: "supervisor@node-a",
  to: "worker-x@node-b",
  to_agent: "worker-x",
  to_node: "node-b",
  repo: null,
  body: "hello\nthere",
  status: "pending",
  created_at: "2026-01-20T10:00:00.000Z",
  acked_at: null,
};

describe("message files", () => {
  it.runIf(useRecordings)("writes the file as multiclaude does (recorded written-by-multiclaude.json): <id>.json, msg- + 13 characters, 2-space JSON, no trailing newline", () => {
    const { path, written } = writeMessageFile(home, "my-repo", message);
    expect(written).toBe(true);
    const id = mcMessageId(message.id);
    expect(id).toMatch(/^msg-[0-9a-f]{8}-[0-9a-f]{4}$/);
    expect(id).toBe(mcMessageId("msg-00abc")); // the same message always gets the same file
    expect(path).toBe(join(home, "messages", "my-repo", "worker-x", `${id}.json`));
    const text = readFileSync(path, "utf8");
    expect(JSON.parse(text)).toEqual({ id, from: "supervisor@node-a", to: "worker-x", timestamp: "2026-01-20T10:00:00.000Z", body: "hello\nthere", status: "pending" });
    const recorded = recordedText("messages/written-by-multiclaude.json");
    // Same keys in the same order, same layout: only the values differ.
    expect(Object.keys(JSON.parse(text))).toEqual(Object.keys(JSON.parse(recorded)));
    expect(text).toBe(JSON.stringify(JSON.parse(text), null, 2));
    expect(text.endsWith("\n")).toBe(recorded.endsWith("\n"));
    expect(recorded.endsWith("}")).toBe(true);
    expect(readdirSync(join(home, "messages", "my-repo", "worker-x"))).toEqual([`${id}.json`]);
  });

  it("leaves a file multiclaude has moved on alone", () => {
    const path = messageFilePath(home, "my-repo", "worker-x", "msg-00abc");
    // On its own: the test before it may not run (it needs the recordings).
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify({ id: mcMessageId("msg-00abc"), status: "read" }));
    expect(writeMessageFile(home, "my-repo", message).written).toBe(false);
    expect(JSON.parse(readFileSync(path, "utf8")).status).toBe("read");
  });

  it("refuses path tricks in names", () => {
    expect(() => messageFilePath(home, "..", "w", "msg-1")).toThrow(/unsafe repo/);
    expect(() => messageFilePath(home, "r", "a/b", "msg-1")).toThrow(/unsafe agent/);
    expect(() => writeMessageFile(home, "r", { ...message, to_agent: ".hidden" })).toThrow();
    expect(existsSync(join(home, "messages", "r"))).toBe(false);
    // Any coordinator id, even one with path characters, becomes a safe file name.
    expect(messageFileName("../../etc")).toMatch(/^msg-[0-9a-f]{8}-[0-9a-f]{4}\.json$/);
  });

  it("picks the repo: the message's (mapped), the one listing the agent, the only one, current_repo", () => {
    const map = (r: string) => (r === "app" ? "acme-app" : r);
    const state = { repos: { a: { agents: { other: {} } }, b: { agents: { "worker-x": {} } } }, current_repo: "a" };
    expect(messageRepo({ repo: "app", to_agent: "worker-x" }, state, map)).toBe("acme-app");
    expect(messageRepo({ repo: null, to_agent: "worker-x" }, state, map)).toBe("b");
    expect(messageRepo({ repo: null, to_agent: "nobody" }, state, map)).toBe("a");
    expect(messageRepo({ repo: null, to_agent: "nobody" }, { repos: { only: {} } }, map)).toBe("only");
    expect(messageRepo({ repo: null, to_agent: "nobody" }, { repos: { a: {}, b: {} } }, map)).toBeUndefined();
  });
});
