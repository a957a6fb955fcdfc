import { describe, expect, it } from "vitest";
import { EVENT_TYPES, type CoordEvent, type EventType } from "../../src/core/types.js";
import { slackText, webhookRequest } from "../../src/webhooks/index.js";

const ev = (type: EventType, data: Record<string, unknown>): CoordEvent => ({ id: 7, type, data: { ts: "2030-01-01T10:30:00.000Z", ...data } });

describe("Slack format: one readable sentence per event", () => {
  it("says who completed a task and with which PR, or its branch when there is none", () => {
    expect(slackText(ev("task.completed", { task_id: "task-1", repo: "my-repo", worker: "worker-3", node_id: "machine-b", pr: "https://github.com/o/r/pull/42" }))).toBe(
      "✅ task-1 (my-repo) completed by worker-3@machine-b: PR #42",
    );
    expect(slackText(ev("task.completed", { task_id: "task-1", repo: "my-repo", worker: "w", node_id: "n", pr: null, branch: "work/fix" }))).toBe(
      "✅ task-1 (my-repo) completed by w@n: branch work/fix",
    );
  });

  it("says why a task failed and when a node was last seen", () => {
    expect(slackText(ev("task.failed", { task_id: "task-2", repo: "my-repo", reason: "tests failed", final: true }))).toBe("❌ task-2 (my-repo) failed: tests failed");
    expect(slackText(ev("node.offline", { node_id: "machine-c", last_seen: "2030-01-01T10:30:12.000Z" }))).toBe("⚠️ node machine-c went offline (last seen 10:30 UTC)");
  });

  it("has a sentence for every event type, and escapes Slack's link and mention syntax", () => {
    for (const type of EVENT_TYPES) {
      const text = slackText(ev(type, { task_id: "task-9", repo: "r", node_id: "n1", agent: "a1", message_id: "m1", from: "x", to: "y" }));
      expect(text.length, type).toBeGreaterThan(8);
      expect(text, type).not.toMatch(/undefined|\[object/);
    }
    expect(slackText(ev("node.cordoned", { node_id: "machine-b", claimed_tasks: ["a", "b"] }))).toBe("🚧 node machine-b cordoned: it takes no new tasks (2 still running)");
    expect(slackText(ev("task.retried", { task_id: "t", repo: "r", from: "failed" }))).toBe("🔁 t (r) queued again (was failed)");
    expect(slackText(ev("task.ready", { task_id: "t", repo: "r", not_before: "2030-01-01T10:00:00.000Z" }))).toBe("⏰ t (r) is ready: its not_before came, it can be claimed now");
    expect(slackText(ev("task.ready", { task_id: "t", repo: "r", not_before: null, dependency: "task-a" }))).toBe("⏰ t (r) is ready: its dependency task-a completed, it can be claimed now");
    expect(slackText(ev("task.failed", { task_id: "t", reason: "<!channel> & <http://evil|click>" }))).toBe("❌ t failed: &lt;!channel&gt; &amp; &lt;http://evil|click&gt;");
  });

  it("sends {text} as the body for format slack, the event for json", () => {
    const e = ev("task.cancelled", { task_id: "t", repo: "r", reason: "no longer needed" });
    expect(JSON.parse(webhookRequest({ format: "slack" }, e).body)).toEqual({ text: "🚫 t (r) cancelled: no longer needed" });
    expect(JSON.parse(webhookRequest({ format: "json" }, e).body)).toEqual({ id: 7, type: "task.cancelled", data: e.data });
  });
});
