import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Task } from "../../core/types.js";
import { api } from "../api.js";
import { onEvent, type LiveEvent } from "../live.js";
import { Ago, Card, Labels, Pill, PrLink, Table } from "../ui.js";
import { TaskActions } from "./tasks.js";

/** Pages the retained log for one task's events (the log keeps 10,000, so at most 10 pages). */
async function historyOf(task: Task): Promise<LiveEvent[]> {
  const out: LiveEvent[] = [];
  let since = 0;
  for (let page = 0; page < 20; page++) {
    const r = await api<{ events: LiveEvent[]; next: number; last_event_id: number }>(
      "GET",
      `/events?types=task.*&repo=${encodeURIComponent(task.repo)}&since=${since}&limit=1000`,
    );
    out.push(...r.events.filter((e) => e.data.task_id === task.id));
    if (r.next >= r.last_event_id || r.next <= since) break;
    since = r.next;
  }
  return out;
}

function TaskLinks({ ids }: { ids: string[] | undefined }) {
  if (!ids?.length) return <span class="muted">none</span>;
  return (
    <>
      {ids.map((id) => (
        <a key={id} class="chip" href={`#/tasks/${encodeURIComponent(id)}`}>
          {id}
        </a>
      ))}
    </>
  );
}

/** One task: its record, its attempts, its history (its events), live. */
export function TaskDetail({ id }: { id: string }) {
  const task = useSignal<Task | null | undefined>(undefined);
  const history = useSignal<LiveEvent[]>([]);
  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const t = await api<Task>("GET", `/tasks/${encodeURIComponent(id)}`);
        if (!alive) return;
        task.value = t;
        const h = await historyOf(t);
        if (alive) history.value = h;
      } catch {
        if (alive) task.value = null;
      }
    };
    void load();
    const stop = onEvent((e) => {
      if (e.data.task_id !== id) return;
      history.value = [...history.value.filter((h) => h.id !== e.id), e];
      api<Task>("GET", `/tasks/${encodeURIComponent(id)}`).then((t) => alive && (task.value = t), () => undefined);
    });
    return () => {
      alive = false;
      stop();
    };
  }, [id]);
  const t = task.value;
  if (t === undefined) return <p class="muted">loading…</p>;
  if (t === null) return <p>No task {id}.</p>;
  return (
    <div class="grid">
      <Card title={`Task ${t.id}`} wide>
        <p class="description" data-testid="description">
          {t.description}
        </p>
        <dl class="facts">
          <dt>status</dt>
          <dd data-testid="task-status">
            <Pill word={t.status} /> <TaskActions task={t} />
          </dd>
          <dt>repo</dt>
          <dd>{t.repo}</dd>
          <dt>priority</dt>
          <dd>{t.priority}</dd>
          <dt>labels</dt>
          <dd>
            <Labels labels={t.labels} />
          </dd>
          <dt>attempts</dt>
          <dd>
            {t.attempts} of {t.max_attempts}
          </dd>
          <dt>claimed by</dt>
          <dd>{t.claimed_by ?? "—"}</dd>
          <dt>PR</dt>
          <dd>
            <PrLink pr={t.result?.pr} />
          </dd>
          <dt>branch</dt>
          <dd>{t.result?.branch ?? "—"}</dd>
          <dt>depends on</dt>
          <dd>
            <TaskLinks ids={t.depends_on} />
          </dd>
          <dt>blocked by</dt>
          <dd>
            <TaskLinks ids={t.blocked_by} />
          </dd>
          {t.failure_reason && (
            <>
              <dt>failure</dt>
              <dd>{t.failure_reason}</dd>
            </>
          )}
          {t.cancel_reason && (
            <>
              <dt>cancelled</dt>
              <dd>{t.cancel_reason}</dd>
            </>
          )}
          {t.result?.summary && (
            <>
              <dt>summary</dt>
              <dd>{t.result.summary}</dd>
            </>
          )}
          <dt>created</dt>
          <dd>
            <Ago at={t.created_at} />
          </dd>
        </dl>
      </Card>
      <Card title="History" wide>
        <Table head={["#", "when", "event", "by", "detail"]} empty="no events of this task in the retained log">
          {history.value.map((e) => (
            <tr key={e.id}>
              <td>{e.id}</td>
              <td>
                <Ago at={e.data.ts} />
              </td>
              <td>{e.type}</td>
              <td>{String(e.data.claimed_by ?? e.data.node_id ?? "")}</td>
              <td>{String(e.data.reason ?? e.data.pr ?? e.data.attempt ?? "")}</td>
            </tr>
          ))}
        </Table>
      </Card>
    </div>
  );
}
