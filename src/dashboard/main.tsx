import { signal, useSignal } from "@preact/signals";
import { render } from "preact";
import { useEffect } from "preact/hooks";
import { loadSession, notice, session, signIn, signOut } from "./api.js";
import { connect, connected, disconnect, KEEP_EVENTS } from "./live.js";
import { startState } from "./state.js";
import "./style.css";
import { Events } from "./views/events.js";
import { Messages } from "./views/messages.js";
import { Nodes } from "./views/nodes.js";
import { Overview } from "./views/overview.js";
import { Repos } from "./views/repos.js";
import { TaskDetail } from "./views/task-detail.js";
import { Tasks } from "./views/tasks.js";

const VIEWS = [
  ["overview", "Overview"],
  ["nodes", "Nodes"],
  ["tasks", "Tasks"],
  ["repos", "Repos"],
  ["events", "Events"],
  ["messages", "Messages"],
] as const;

/** `#/tasks/ID?x=y` → ["tasks", "ID"] and its query: every view has a deep link. */
const route = signal(location.hash);
addEventListener("hashchange", () => (route.value = location.hash));

/** A malformed escape (`#/tasks/%E0`) is shown as typed rather than blanking the page. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function parseRoute(hash: string): { parts: string[]; query: URLSearchParams } {
  const [path = "", q = ""] = hash.replace(/^#\/?/, "").split("?");
  return { parts: path.split("/").filter(Boolean).map(decodePart), query: new URLSearchParams(q) };
}

function SignIn() {
  const failed = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem("token") as HTMLInputElement;
    try {
      await signIn(input.value.trim());
    } catch (err) {
      failed.value = (err as Error).message;
    } finally {
      // The token is not kept anywhere: not in the field, not in storage.
      input.value = "";
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} autocomplete="off">
        <h1>multiclaude-coord</h1>
        <p>Sign in with a token (read, node or admin). It is traded for a session cookie and not kept.</p>
        <input name="token" type="password" placeholder="token" aria-label="token" required autofocus />
        <button type="submit">Sign in</button>
        {failed.value && <p class="error">{failed.value}</p>}
      </form>
    </main>
  );
}

function View() {
  const { parts, query } = parseRoute(route.value);
  const [view = "overview", id] = parts;
  if (view === "tasks" && id) return <TaskDetail id={id} />;
  switch (view) {
    case "nodes":
      return <Nodes />;
    case "tasks":
      // Keyed by its query, so following a link such as #/tasks?status=failed applies its filter.
      return <Tasks key={query.toString()} query={query} />;
    case "repos":
      return <Repos />;
    case "events":
      return <Events />;
    case "messages":
      return <Messages />;
    default:
      return <Overview />;
  }
}

/** Ends the page's live updates; set while the shell is shown. */
let stopLive: (() => void) | undefined;

function Shell() {
  useEffect(() => {
    let stop: (() => void) | undefined;
    let alive = true;
    startState()
      .then(({ status, stop: s }) => {
        stop = s;
        if (!alive) return s();
        // The last KEEP_EVENTS events first (charts, tail, failures), then live.
        connect(Math.max(0, status.last_event_id - KEEP_EVENTS));
      })
      .catch(() => undefined);
    stopLive = () => {
      alive = false;
      stop?.();
      disconnect();
    };
    return stopLive;
  }, []);
  const s = session.value!;
  const current = parseRoute(route.value).parts[0] ?? "overview";
  return (
    <>
      <header>
        <b class="brand">multiclaude-coord</b>
        <nav>
          {VIEWS.map(([key, label]) => (
            <a key={key} href={`#/${key}`} class={current === key ? "current" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          <span class={connected.value ? "dot live" : "dot"} title={connected.value ? "live" : "reconnecting"} data-testid="live" data-live={String(connected.value)} />
          {s.name} <span class="pill muted" data-testid="role">{s.role}</span>
          {s.via === "session" && (
            <button type="button" data-action="sign-out" onClick={() => {
                // First stop reading, so nothing goes out once the session is gone.
                stopLive?.();
                void signOut();
              }}>
              sign out
            </button>
          )}
        </span>
      </header>
      {notice.value && (
        <p class="error" role="alert">
          {notice.value}
        </p>
      )}
      <main>
        <View />
      </main>
    </>
  );
}

function App() {
  const s = session.value;
  if (!s) return <p class="muted">loading…</p>;
  return s.signed_in ? <Shell /> : <SignIn />;
}

void loadSession();
render(<App />, document.getElementById("app")!);
