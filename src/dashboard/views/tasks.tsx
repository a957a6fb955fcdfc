import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { TASK_STATUSES, type Task } from "../../core/types.js";
import { act, api, isAdmin } from "../api.js";
import { refresh, seenRepos, taskList, tasks } from "../state.js";
import { Ago, Labels, MoreButton, Pill, Table } from "../ui.js";

const CANCELLABLE = new Set(["waiting", "pending", "claimed", "orphaned"]);
const RETRYABLE = new Set(["failed", "cancelled"]);

/** Cancel and retry, for admin sessions only (a read session gets no buttons at all). */
export function TaskActions({ task }: { task: Task }) {
  if (!isAdmin()) return null;
  const run = (verb: "cancel" | "retry") =>
    act(verb, async () => {
      await api("POST", `/tasks/${encodeURIComponent(task.id)}/${verb}`, verb === "cancel" ? { reason: "cancelled from the dashboard" } : undefined);
      refresh("tasks", "status");
    });
  return (
    <span class="actions">
      {CANCELLABLE.has(task.status) && (
        <button type="button" data-action="cancel" onClick={() => run("cancel")}>
          cancel
        </button>
      )}
      {RETRYABLE.has(task.status) && (
        <button type="button" data-action="retry" onClick={() => run("retry")}>
          retry
        </button>
      )}
    </span>
  );
}

/** "k:v" pairs a task must all carry. */
function labelFilter(text: string): [string, string][] {
  return text
    .split(/[\s,]+/)
    .filter((p) => p.includes(":"))
    .map((p) => [p.slice(0, p.indexOf(":")), p.slice(p.indexOf(":") + 1)]);
}

export function Tasks({ query }: { query: URLSearchParams }) {
  const status = useSignal(query.get("status") ?? "");
  const repo = useSignal(query.get("repo") ?? "");
  const label = useSignal(query.get("label") ?? "");
  // Status and repo are filtered by the server (so `#/tasks?status=failed` finds them all, page by
  // page); labels only among the rows loaded, which the count says.
  useEffect(() => {
    void taskList.filter({ status: status.value, repo: repo.value }).catch(() => undefined);
  }, [status.value, repo.value]);
  const shown = useComputed(() => {
    const wanted = labelFilter(label.value);
    return tasks.value.filter(
      (t) =>
        (!status.value || t.status === status.value) &&
        (!repo.value || t.repo === repo.value) &&
        wanted.every(([k, v]) => t.labels[k] === v),
    );
  });
  const repos = useComputed(() => [...new Set([...seenRepos.value, ...(repo.value ? [repo.value] : [])])].sort());
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          status{" "}
          <select name="status" value={status.value} onChange={(e) => (status.value = e.currentTarget.value)}>
            <option value="">any</option>
            {TASK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          repo{" "}
          <select name="repo" value={repo.value} onChange={(e) => (repo.value = e.currentTarget.value)}>
            <option value="">any</option>
            {repos.value.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          label <input name="label" placeholder="pool:gpu" value={label.value} onInput={(e) => (label.value = e.currentTarget.value)} />
        </label>
        <span class="muted" data-testid="tasks-count">
          {label.value.trim()
            ? `${shown.value.length} with these labels among the ${tasks.value.length} loaded`
            : `${tasks.value.length}${taskList.cursor.value ? "+" : ""} ${tasks.value.length === 1 ? "task" : "tasks"}`}
        </span>
      </form>
      <Table head={["task", "status", "repo", "priority", "labels", "claimed by", "updated", ""]} empty="no task matches">
        {shown.value.map((t) => (
          <tr key={t.id} data-task={t.id}>
            <td>
              <a href={`#/tasks/${encodeURIComponent(t.id)}`}>{t.id}</a>
              <div class="clip">{t.description}</div>
            </td>
            <td>
              <Pill word={t.status} />
            </td>
            <td>{t.repo}</td>
            <td>{t.priority}</td>
            <td>
              <Labels labels={t.labels} />
            </td>
            <td>{t.claimed_by ?? <span class="muted">—</span>}</td>
            <td>
              <Ago at={t.updated_at} />
            </td>
            <td>
              <TaskActions task={t} />
            </td>
          </tr>
        ))}
      </Table>
      <MoreButton list={taskList} what="tasks" />
    </>
  );
}
