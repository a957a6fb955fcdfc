import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { BarChart, fmt, lastHour } from "../charts.js";
import { events } from "../live.js";
import { status } from "../state.js";
import { Ago, Card, Pill, Table } from "../ui.js";

/** The PRD's success measures: fleet, work, speed, and what went wrong lately. */
export function Overview() {
  const now = useSignal(Date.now());
  useEffect(() => {
    // The charts' window moves with the clock; no request is made.
    const t = setInterval(() => (now.value = Date.now()), 15_000);
    return () => clearInterval(t);
  }, []);
  const hour = useComputed(() => lastHour(events.value, now.value));
  const troubles = useComputed(() =>
    events.value.filter((e) => e.type === "task.failed" || e.type === "node.offline" || e.type === "task.orphaned").slice(-12).reverse(),
  );
  const s = status.value;
  if (!s) return <p class="muted">loading…</p>;
  const lat = s.claim_latency;
  return (
    <div class="grid">
      <Card title="Nodes">
        <p class="big" data-testid="nodes-online">
          {s.nodes.online ?? 0}
          <small> online</small>
        </p>
        <p>
          <span data-testid="nodes-offline">{s.nodes.offline ?? 0}</span> offline · {s.nodes.total ?? 0} known
        </p>
      </Card>
      <Card title="Workers">
        <p class="big" data-testid="workers">
          {s.workers.busy}
          <small> / {s.workers.max} busy</small>
        </p>
        <meter min={0} max={1} value={s.workers.utilisation} />
        <p>{Math.round(s.workers.utilisation * 100)}% utilisation</p>
      </Card>
      <Card title="Create → claim (last hour)">
        <p class="big">
          {lat.p50_ms === null ? "—" : `${fmt(lat.p50_ms)} ms`}
          <small> p50</small>
        </p>
        <p>
          p99 {lat.p99_ms === null ? "—" : `${fmt(lat.p99_ms)} ms`} · {lat.count} claims
        </p>
      </Card>
      <Card title="Tasks by status" wide>
        <ul class="counts" data-testid="task-counts">
          {Object.entries(s.tasks)
            .filter(([k]) => k !== "total")
            .map(([k, v]) => (
              <li key={k} data-status={k}>
                <a href={`#/tasks?status=${k}`}>
                  <Pill word={k} /> <b>{v}</b>
                </a>
              </li>
            ))}
          <li>
            total <b data-testid="tasks-total">{s.tasks.total ?? 0}</b>
          </li>
        </ul>
      </Card>
      <Card title="Tasks done per minute" wide>
        <BarChart series={hour.value.done} unit="" label="tasks completed per minute" />
      </Card>
      <Card title="Create → claim latency per minute (median)" wide>
        <BarChart series={hour.value.latency} unit=" ms" label="median create→claim wait per minute" />
      </Card>
      <Card title="Recent failures and offline nodes" wide>
        <Table head={["when", "what", "which", "why"]} empty="none in the events held">
          {troubles.value.map((e) => (
            <tr key={e.id}>
              <td>
                <Ago at={e.data.ts} />
              </td>
              <td>
                <Pill word={e.type.split(".")[1]!} />
              </td>
              <td>
                {typeof e.data.task_id === "string" ? <a href={`#/tasks/${encodeURIComponent(e.data.task_id)}`}>{e.data.task_id}</a> : String(e.data.node_id ?? "")}
              </td>
              <td>{String(e.data.reason ?? e.data.last_seen ?? "")}</td>
            </tr>
          ))}
        </Table>
      </Card>
    </div>
  );
}
