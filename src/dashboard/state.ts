import { signal } from "@preact/signals";
import type { Message, Node, Task } from "../core/types.js";
import { api } from "./api.js";
import { onEvent } from "./live.js";

export interface Status {
  version: string;
  uptime_seconds: number;
  store: string;
  nodes: Record<string, number>;
  tasks: Record<string, number>;
  last_event_id: number;
  workers: { busy: number; max: number; utilisation: number };
  claim_latency: { window_seconds: number; count: number; p50_ms: number | null; p99_ms: number | null };
}

export const status = signal<Status | undefined>(undefined);
export const nodes = signal<Node[]>([]);
export const tasks = signal<Task[]>([]);
export const messages = signal<Message[]>([]);

/** Most tasks the Tasks view lists (newest first); the filters narrow the list on the server where it can. */
const TASK_LIST_LIMIT = 500;

const loaders = {
  status: async () => (status.value = await api<Status>("GET", "/status")),
  nodes: async () => (nodes.value = (await api<{ nodes: Node[] }>("GET", "/nodes")).nodes),
  tasks: async () => (tasks.value = (await api<{ tasks: Task[] }>("GET", `/tasks?limit=${TASK_LIST_LIMIT}`)).tasks),
  messages: async () => (messages.value = (await api<{ messages: Message[] }>("GET", "/messages")).messages),
};
type Kind = keyof typeof loaders;

/** What each kind of event changes, so only that is read again. */
function kindsOf(type: string): Kind[] {
  if (type.startsWith("task.")) return ["status", "tasks", "nodes"];
  if (type.startsWith("node.") || type.startsWith("agent.")) return ["status", "nodes"];
  if (type.startsWith("message.")) return ["messages"];
  return [];
}

const due = new Set<Kind>();
let timer: ReturnType<typeof setTimeout> | undefined;

/** Reads `kinds` again soon: a burst of events costs one read of each, not one per event. */
export function refresh(...kinds: Kind[]): void {
  for (const k of kinds) due.add(k);
  timer ??= setTimeout(() => {
    timer = undefined;
    const now = [...due];
    due.clear();
    for (const k of now) loaders[k]().catch(() => undefined);
  }, 150);
}

/** Loads everything once, then keeps it current from the event stream (no polling). */
export async function startState(): Promise<{ status: Status; stop: () => void }> {
  const [s] = await Promise.all([loaders.status(), loaders.nodes(), loaders.tasks(), loaders.messages()]);
  const stop = onEvent((e) => {
    // Replayed history is already in what was just loaded.
    if (e.id > s.last_event_id || e.type === "stream.reset") refresh(...(e.type === "stream.reset" ? (Object.keys(loaders) as Kind[]) : kindsOf(e.type)));
  });
  return {
    status: s,
    stop: () => {
      stop();
      // Reads still due would go out without a session and be refused.
      clearTimeout(timer);
      timer = undefined;
      due.clear();
    },
  };
}
