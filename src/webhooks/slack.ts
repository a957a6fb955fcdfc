import type { CoordEvent } from "../core/types.js";

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined);

/** `#42` for a PR given as a number or a URL ending in /pull/42; the text itself otherwise. */
function prRef(pr: string): string {
  const m = /(?:^#?|\/pull\/)(\d+)\/?$/.exec(pr);
  return m ? `PR #${m[1]}` : `PR ${pr}`;
}

/** `10:30` (UTC) of an ISO time; the text itself when it is not one. */
function clock(iso: unknown): string {
  const t = typeof iso === "string" ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return "unknown";
  return `${new Date(t).toISOString().slice(11, 16)} UTC`;
}

/** Slack's control characters (`<`, `>`, `&`) escaped, so event text cannot form links or mentions. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * One readable sentence for an event (DESIGN §12, `format: slack`): who did what to which task
 * or node. Every event type has one; a type this build does not know gets a generic line.
 */
export function slackText(event: CoordEvent): string {
  const d = event.data;
  const task = `${str(d.task_id) ?? "task"}${str(d.repo) ? ` (${str(d.repo)})` : ""}`;
  const by = str(d.worker) && str(d.node_id) ? `${str(d.worker)}@${str(d.node_id)}` : str(d.node_id) ?? str(d.worker);
  const node = str(d.node_id) ?? "?";
  const why = str(d.reason);
  switch (event.type) {
    case "task.completed": {
      const what = str(d.pr) ? prRef(str(d.pr)!) : str(d.branch) ? `branch ${str(d.branch)}` : str(d.summary);
      return esc(`✅ ${task} completed${by ? ` by ${by}` : ""}${what ? `: ${what}` : ""}`);
    }
    case "task.failed":
      return esc(`❌ ${task} failed${by ? ` on ${by}` : ""}: ${why ?? "no reason given"}${d.final === false ? " (will be retried)" : ""}`);
    case "task.created":
      return esc(`🆕 ${task} created${str(d.priority) ? ` (${str(d.priority)} priority)` : ""}: ${str(d.description) ?? ""}`.trimEnd());
    case "task.claimed":
      return esc(`▶️ ${task} claimed${by ? ` by ${by}` : ""}${typeof d.attempt === "number" ? ` (attempt ${d.attempt})` : ""}`);
    case "task.released":
      return esc(`↩️ ${task} released${by ? ` by ${by}` : ""}${why ? `: ${why}` : ""}`);
    case "task.orphaned":
      return esc(`⏳ ${task} orphaned: the lease of ${by ?? "its node"} ran out; it will be claimed again`);
    case "task.cancelled":
      return esc(`🚫 ${task} cancelled${why ? `: ${why}` : ""}`);
    case "task.retried":
      return esc(`🔁 ${task} queued again${str(d.from) ? ` (was ${str(d.from)})` : ""}`);
    case "task.ready":
      return esc(`⏰ ${task} is ready: ${str(d.dependency) ? `its dependency ${str(d.dependency)} completed` : "its not_before came"}, it can be claimed now`);
    case "node.cordoned":
      return esc(`🚧 node ${node} cordoned: it takes no new tasks${Array.isArray(d.claimed_tasks) ? ` (${d.claimed_tasks.length} still running)` : ""}`);
    case "node.uncordoned":
      return esc(`✅ node ${node} uncordoned: it takes tasks again`);
    case "node.registered":
      return esc(`🖥️ node ${node} registered${str(d.hostname) ? ` (${str(d.hostname)})` : ""}`);
    case "node.online":
      return esc(`🟢 node ${node} is back online`);
    case "node.offline":
      return esc(`⚠️ node ${node} went offline (last seen ${clock(d.last_seen)})`);
    case "node.deregistered":
      return esc(`👋 node ${node} deregistered${typeof d.released_tasks === "number" ? `, ${d.released_tasks} task(s) released` : ""}`);
    case "node.forgotten":
      return esc(`🗑️ node ${node} forgotten (last seen ${clock(d.last_seen)})`);
    case "agent.spawned":
      return esc(`🤖 agent ${str(d.agent) ?? "?"} started on ${node}${str(d.repo) ? ` (${str(d.repo)})` : ""}`);
    case "agent.exited":
      return esc(`🤖 agent ${str(d.agent) ?? "?"} exited on ${node}${str(d.repo) ? ` (${str(d.repo)})` : ""}`);
    case "message.sent":
      return esc(`✉️ message ${str(d.message_id) ?? ""} from ${str(d.from) ?? "?"} to ${str(d.to) ?? "?"}`);
    case "message.acked":
      return esc(`📬 message ${str(d.message_id) ?? ""} to ${str(d.to) ?? "?"} read`);
    default:
      if ((event.type as string) === "webhook.test") return esc(`🔔 test delivery from multiclaude-coord to webhook ${str(d.webhook) ?? "?"}`);
      return esc(`ℹ️ ${String(event.type)}${str(d.task_id) ? ` ${task}` : ""}${str(d.node_id) ? ` node ${node}` : ""}`);
  }
}
