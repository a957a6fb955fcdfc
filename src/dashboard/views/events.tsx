import { useComputed, useSignal } from "@preact/signals";
import { EVENT_TYPES } from "../../core/types.js";
import { events, type LiveEvent } from "../live.js";
import { Ago, Table } from "../ui.js";

const SHOWN = 200;

/** The live tail: newest first, filtered by type, frozen while paused. */
export function Events() {
  const type = useSignal("");
  const paused = useSignal<LiveEvent[] | null>(null);
  const shown = useComputed(() => {
    const all = paused.value ?? events.value;
    const prefix = type.value.endsWith(".*") ? type.value.slice(0, -1) : null;
    return all
      .filter((e) => !type.value || e.type === type.value || (prefix !== null && e.type.startsWith(prefix)))
      .slice(-SHOWN)
      .reverse();
  });
  const groups = [...new Set(EVENT_TYPES.map((t) => `${t.split(".")[0]}.*`))];
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          type{" "}
          <select name="type" value={type.value} onChange={(e) => (type.value = e.currentTarget.value)}>
            <option value="">all</option>
            {[...groups, ...EVENT_TYPES].map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-action="pause" onClick={() => (paused.value = paused.value ? null : events.value)}>
          {paused.value ? "resume" : "pause"}
        </button>
        {paused.value && <span class="muted">paused: {events.value.length - paused.value.length} new since</span>}
      </form>
      <Table head={["#", "when", "type", "data"]} empty="no events">
        {shown.value.map((e) => (
          <tr key={e.id} data-event={e.type}>
            <td>{e.id}</td>
            <td>
              <Ago at={e.data.ts} />
            </td>
            <td>{e.type}</td>
            <td>
              <code class="clip">{JSON.stringify(e.data)}</code>
            </td>
          </tr>
        ))}
      </Table>
    </>
  );
}
