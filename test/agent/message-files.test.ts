import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { messageFileName, messageFilePath, messageRepo, writeMessageFile } from "../../src/agent/message-files.js";
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
  it("writes multiclaude's message shape atomically under messages/<repo>/<agent>/", () => {
    const { path, written } = writeMessageFile(home, "my-repo", message);
    expect(written).toBe(true);
    expect(path).toBe(join(home, "messages", "my-repo", "worker-x", "msg-00abc.json"));
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      id: "msg-00abc",
      from: "supervisor@node-a",
      to: "worker-x",
      timestamp: "2026-01-20T10:00:00.000Z",
      body: "hello\nthere",
      status: "pending",
      acked_at: null,
    });
    expect(readdirSync(join(home, "messages", "my-repo", "worker-x"))).toEqual(["msg-00abc.json"]);
  });

  it("leaves a file multiclaude has moved on alone", () => {
    const path = messageFilePath(home, "my-repo", "worker-x", "msg-00abc");
    writeFileSync(path, JSON.stringify({ id: "msg-00abc", status: "read" }));
    expect(writeMessageFile(home, "my-repo", message).written).toBe(false);
    expect(JSON.parse(readFileSync(path, "utf8")).status).toBe("read");
  });

  it("refuses path tricks in names", () => {
    expect(() => messageFilePath(home, "..", "w", "msg-1")).toThrow(/unsafe repo/);
    expect(() => messageFilePath(home, "r", "a/b", "msg-1")).toThrow(/unsafe agent/);
    expect(() => writeMessageFile(home, "r", { ...message, to_agent: ".hidden" })).toThrow();
    expect(existsSync(join(home, "messages", "r"))).toBe(false);
    expect(messageFileName("abc")).toBe("msg-abc.json");
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
