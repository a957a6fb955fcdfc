import type { Task } from "../../core/types.js";
import { age, ago, labels, priority, status } from "../output/format.js";
import type { Output } from "../output/output.js";

/** The PR a task's result names, else its branch, else `-`. */
export function prOrBranch(t: Task): string {
  return t.result?.pr ?? t.result?.branch ?? "-";
}

/**
 * `tasks list` / `pending`: the free-text DESCRIPTION is cut to fit the width; on a terminal too
 * narrow even then, PR and then PRIORITY are left out; `-o wide` shows them all, plus labels,
 * attempts and age.
 */
export function printTasks(out: Output, tasks: Task[], emptyText = "no tasks"): void {
  out.table(
    [
      "ID",
      "STATUS",
      { title: "PRIORITY", optional: 2 },
      "REPO",
      "CLAIMANT",
      { title: "PR", optional: 1 },
      { title: "LABELS", wide: true },
      { title: "ATTEMPTS", wide: true },
      { title: "AGE", wide: true },
      { title: "DESCRIPTION", flex: true },
    ],
    tasks.map((t) => [
      t.id,
      status(out.c, t.status),
      priority(out.c, t.priority),
      t.repo,
      t.claimed_by ?? "-",
      prOrBranch(t),
      labels(t.labels),
      `${t.attempts}/${t.max_attempts}`,
      age(t.created_at),
      t.description,
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
    ["not before", t.not_before ? `${t.not_before} (${ago(t.not_before)})` : null],
    ["depends on", t.depends_on?.length ? t.depends_on.join(", ") : null],
    ["blocked by", t.status === "waiting" && t.blocked_by?.length ? t.blocked_by.join(", ") : null],
    ["concurrency", t.concurrency_key ? `key ${t.concurrency_key}, at most ${t.concurrency_limit ?? 1} claimed at once` : null],
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

/** One line after a state change: `✓ task-… claimed by w@n`; a failure gets a red `✗`, not a tick. */
export function printTaskChange(out: Output, t: Task, verb: string): void {
  const by = t.claimed_by && (verb === "claimed" || verb === "completed") ? ` by ${t.claimed_by}` : "";
  const text = `${out.c.bold(t.id)} ${verb}${by} (${status(out.c, t.status)})`;
  if (verb.startsWith("failed")) out.failure(text);
  else out.success(text);
}

/** `--quiet` prints the bare id (for `$(...)` in scripts); `--json` the task; else one line. */
export function printOne(out: Output, task: Task, quiet: boolean, verb: string): void {
  if (quiet && !out.json) out.plain(task.id);
  else out.result(task, (t) => printTaskChange(out, t, verb));
}
