import { describe, expect, it } from "vitest";
import { HIDE_DEREGISTERED_AFTER_MS, visibleNodes } from "../../src/cli/commands/nodes.js";
import type { Node } from "../../src/core/types.js";

const node = (id: string, status: Node["status"], lastSeenMsAgo: number, now: number): Node =>
  ({ id, status, last_seen: new Date(now - lastSeenMsAgo).toISOString() }) as Node;

describe("nodes list", () => {
  it("hides nodes deregistered more than an hour ago unless --all; offline ones stay", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    const nodes = [
      node("fresh", "deregistered", HIDE_DEREGISTERED_AFTER_MS - 1000, now),
      node("old", "deregistered", HIDE_DEREGISTERED_AFTER_MS + 1000, now),
      node("quiet", "offline", 3 * HIDE_DEREGISTERED_AFTER_MS, now),
      node("up", "online", 0, now),
    ];
    expect(visibleNodes(nodes, false, now).map((n) => n.id)).toEqual(["fresh", "quiet", "up"]);
    expect(visibleNodes(nodes, true, now).map((n) => n.id)).toEqual(["fresh", "old", "quiet", "up"]);
  });
});
