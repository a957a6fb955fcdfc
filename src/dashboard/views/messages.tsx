import { useComputed } from "@preact/signals";
import type { Message } from "../../core/types.js";
import { messages } from "../state.js";
import { Ago, Card, Pill, Table } from "../ui.js";

/** Messages grouped by the node they are addressed to, newest first, with their status. */
export function Messages() {
  const byNode = useComputed(() => {
    const groups = new Map<string, Message[]>();
    for (const m of messages.value) groups.set(m.to_node, [...(groups.get(m.to_node) ?? []), m]);
    return [...groups].sort(([a], [b]) => a.localeCompare(b));
  });
  if (byNode.value.length === 0) return <p class="muted">No messages.</p>;
  return (
    <div class="grid">
      {byNode.value.map(([node, list]) => (
        <Card key={node} title={`${node} · ${list.filter((m) => m.status === "pending").length} pending`} wide>
          <Table head={["when", "from", "to", "status", "message"]}>
            {[...list].reverse().map((m) => (
              <tr key={m.id}>
                <td>
                  <Ago at={m.created_at} />
                </td>
                <td>{m.from}</td>
                <td>{m.to}</td>
                <td>
                  <Pill word={m.status} />
                </td>
                <td class="clip">{m.body}</td>
              </tr>
            ))}
          </Table>
        </Card>
      ))}
    </div>
  );
}
