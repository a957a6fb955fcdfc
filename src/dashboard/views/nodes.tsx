import type { Node } from "../../core/types.js";
import { act, api, isAdmin } from "../api.js";
import { nodeList, nodes, refresh } from "../state.js";
import { Ago, Labels, MoreButton, Pill, Table } from "../ui.js";

const pct = (n: number | undefined) => (typeof n === "number" ? `${Math.round(n)}%` : "—");

function CordonButton({ node }: { node: Node }) {
  const verb = node.cordoned ? "uncordon" : "cordon";
  return (
    <button
      type="button"
      data-action={verb}
      onClick={() => act(verb, async () => {
        await api("POST", `/nodes/${encodeURIComponent(node.id)}/${verb}`);
        refresh("nodes");
      })}
    >
      {verb}
    </button>
  );
}

/** Every node: liveness, its own health, capacity, load, and what its agents work on. */
export function Nodes() {
  const admin = isAdmin();
  return (
    <>
      <Table head={["node", "status", "labels", "workers", "cpu / mem", "agents", "claims", "last seen", ...(admin ? [""] : [])]} empty="no node has registered">
        {nodes.value.map((n) => (
          <tr key={n.id} data-node={n.id}>
            <td>
              <b>{n.id}</b>
              <div class="muted">{n.hostname}</div>
            </td>
            <td>
              <Pill word={n.status} /> <Pill word={n.health} /> {n.cordoned && <Pill word="cordoned" />}
            </td>
            <td>
              <Labels labels={n.labels} />
            </td>
            <td>
              {n.claimed_tasks.length} / {n.capacity.max_workers}
            </td>
            <td>
              {pct(n.metrics.cpu_percent)} / {pct(n.metrics.memory_percent)}
            </td>
            <td>
              <ul class="plain">
                {n.agents.map((a) => (
                  <li key={a.name}>
                    <b>{a.name}</b> <span class="muted">{a.type}</span> <Pill word={a.status} />
                    {a.task_id ? (
                      <>
                        {" "}
                        <a href={`#/tasks/${encodeURIComponent(a.task_id)}`}>{a.task_id}</a>
                      </>
                    ) : a.task ? (
                      <div class="clip">{a.task}</div>
                    ) : null}
                  </li>
                ))}
              </ul>
            </td>
            <td>
              {n.claimed_tasks.map((id) => (
                <div key={id}>
                  <a href={`#/tasks/${encodeURIComponent(id)}`}>{id}</a>
                </div>
              ))}
            </td>
            <td>
              <Ago at={n.last_seen} />
            </td>
            {admin && (
              <td>
                <CordonButton node={n} />
              </td>
            )}
          </tr>
        ))}
      </Table>
      <MoreButton list={nodeList} what="nodes" />
    </>
  );
}
