import type { Task } from "../../core/types.js";
import { ago, labels, priority, status, truncate } from "../output/format.js";
import type { Output } from "../output/output.js";

export function printTasks(out: Output, tasks: Task[], emptyText = "no tasks"): void {
  out.table(
    ["ID", "STATUS", "PRIORITY", "REPO", "LABELS", "CLAIMED BY", "AGE", "DESCRIPTION"],
    tasks.map((t) => [
      t.id,
      status(out.c, t.status),
      priority(out.c, t.priority),
      t.repo,
      labels(t.labels),
      t.claimed_by ?? "-",
      ago(t.created_at),
      truncate(t.description, 50),
    ]),
    emptyText,
  );
}

export function printTask(out: Output, t: Task): void {
  out.fields([
    ["task", t.id],
    ["status", status(out.c, t.status)],
    ["repo", t.repo],
    ["priority", priority(out.c, t.priority)],
    ["labels", labels(t.labels)],
    ["attempts", `${t.attempts}/${t.max_attempts}`],
    ["created", `${t.created_at} (${ago(t.created_at)})`],
    ["claimed by", t.claimed_by],
    ["claimed at", t.claimed_at],
    ["lease expires", t.lease_expires_at ? `${t.lease_expires_at} (${ago(t.lease_expires_at)})` : null],
    ["completed", t.completed_at],
    ["pr", t.result?.pr ?? null],
    ["branch", t.result?.branch ?? null],
    ["summary", t.result?.summary ?? null],
    ["cooldown", t.cooldown ? `not offered to ${t.cooldown.node_id} again until ${t.cooldown.until}` : null],
    ["failure", t.failure_reason],
    ["cancel reason", t.cancel_reason],
    ["idempotency key", t.idempotency_key],
  ]);
  out.line();
  out.line(t.description);
}

/** One line after a state change: `✓ task-… claimed by w@n`. */
export function printTaskChange(out: Output, t: Task, verb: string): void {
  const by = t.claimed_by && (verb === "claimed" || verb === "completed") ? ` by ${t.claimed_by}` : "";
  out.success(`${out.c.bold(t.id)} ${verb}${by} (${status(out.c, t.status)})`);
}

/** `--quiet` prints the bare id (for `$(...)` in scripts); `--json` the task; else one line. */
export function printOne(out: Output, task: Task, quiet: boolean, verb: string): void {
  if (quiet && !out.json) out.plain(task.id);
  else out.result(task, (t) => printTaskChange(out, t, verb));
}
