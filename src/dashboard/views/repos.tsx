import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api } from "../api.js";
import { onEvent } from "../live.js";
import { nodes, seenRepos } from "../state.js";
import { Card, Pill, Table } from "../ui.js";

interface RepoState {
  repo: string;
  agents: Record<string, { name: string; node: string; type: string; status: string; task: string | null }>;
  pending_tasks: number;
  active_prs: number;
}

/** `GET /state/{repo}` for every repo a node reports or a task names; read again on events of that repo. */
export function Repos() {
  const names = useComputed(() => [...new Set([...nodes.value.flatMap((n) => n.repos.map((r) => r.name)), ...seenRepos.value])].sort());
  const states = useSignal<Record<string, RepoState>>({});
  useEffect(() => {
    let alive = true;
    const load = (repo: string) =>
      api<RepoState>("GET", `/state/${encodeURIComponent(repo)}`).then((s) => alive && (states.value = { ...states.value, [repo]: s }), () => undefined);
    names.value.forEach(load);
    const stop = onEvent((e) => {
      if (typeof e.data.repo === "string") void load(e.data.repo);
      else if (e.type.startsWith("agent.") || e.type.startsWith("node.")) names.value.forEach(load);
    });
    return () => {
      alive = false;
      stop();
    };
  }, [names.value.join("\n")]);
  return (
    <div class="grid">
      {names.value.length === 0 && <p class="muted">No repo yet: nodes report theirs in heartbeats, tasks name one.</p>}
      {names.value.map((repo) => {
        const s = states.value[repo];
        return (
          <Card key={repo} title={repo} wide>
            {s ? (
              <>
                <p>
                  <b>{s.pending_tasks}</b> pending · <b>{s.active_prs}</b> active PRs · {Object.keys(s.agents).length} agents
                </p>
                <Table head={["agent", "type", "status", "task"]} empty="no agent reports this repo">
                  {Object.entries(s.agents).map(([key, a]) => (
                    <tr key={key}>
                      <td>{key}</td>
                      <td>{a.type}</td>
                      <td>
                        <Pill word={a.status} />
                      </td>
                      <td class="clip">{a.task ?? "—"}</td>
                    </tr>
                  ))}
                </Table>
              </>
            ) : (
              <p class="muted">loading…</p>
            )}
          </Card>
        );
      })}
    </div>
  );
}
