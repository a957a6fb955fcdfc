import { computed, signal } from "@preact/signals";
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
export const messages = signal<Message[]>([]);

/** Rows a list reads per page; "more" reads the next page by `next_cursor`. */
export const PAGE_SIZE = 200;
/** The API's largest page: a refresh re-reads at most this many of the rows already shown. */
const MAX_PAGE = 1000;

/**
 * A server-paged list (`GET path?limit&cursor` → `{[key]: rows, next_cursor}`). A refresh re-reads
 * as many rows as are shown (at least a page), so loaded pages are not lost to a live update.
 */
function pagedList<T>(path: string, key: string) {
  const rows = signal<T[]>([]);
  const cursor = signal<string | null>(null);
  /** Query parameters the server filters by (the Tasks view's status and repo). */
  let params: Record<string, string> = {};
  let generation = 0;
  const read = async (limit: number, after?: string) => {
    const q = new URLSearchParams({ ...params, limit: String(limit), ...(after ? { cursor: after } : {}) });
    return api<Record<string, T[]> & { next_cursor: string | null }>("GET", `${path}?${q}`);
  };
  return {
    rows,
    cursor,
    async load(): Promise<void> {
      const mine = ++generation;
      const page = await read(Math.min(MAX_PAGE, Math.max(PAGE_SIZE, rows.value.length)));
      if (mine !== generation) return; // the filter changed meanwhile: a newer read wins
      rows.value = page[key]!;
      cursor.value = page.next_cursor;
    },
    async more(): Promise<void> {
      if (!cursor.value) return;
      const mine = generation;
      const page = await read(PAGE_SIZE, cursor.value);
      if (mine !== generation) return;
      rows.value = [...rows.value, ...page[key]!];
      cursor.value = page.next_cursor;
    },
    /** Filters on the server; the rows shown so far are dropped. */
    filter(next: Record<string, string>): Promise<void> {
      params = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== ""));
      rows.value = [];
      cursor.value = null;
      return this.load();
    },
  };
}

export const taskList = pagedList<Task>("/tasks", "tasks");
export const nodeList = pagedList<Node>("/nodes", "nodes");
export const tasks = taskList.rows;
export const nodes = nodeList.rows;

const knownRepos = new Set<string>();
/** Every repo a loaded task named so far (so the Tasks view's repo choices survive its own repo filter). */
export const seenRepos = computed<string[]>(() => {
  for (const t of tasks.value) knownRepos.add(t.repo);
  return [...knownRepos].sort();
});

const loaders = {
  status: async () => (status.value = await api<Status>("GET", "/status")),
  nodes: () => nodeList.load(),
  tasks: () => taskList.load(),
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

/**
 * Reads go out GATHER_MS after the first event of a burst, and at most once a COALESCE_MS: a busy
 * coordinator costs each open page one read of each list a second, and a quiet one shows a change
 * within about 0.1 s.
 */
const GATHER_MS = 100;
const COALESCE_MS = 1000;
const due = new Set<Kind>();
let timer: ReturnType<typeof setTimeout> | undefined;
let lastRun = 0;

/** Reads `kinds` again soon: a burst of events costs one read of each, not one per event. */
export function refresh(...kinds: Kind[]): void {
  for (const k of kinds) due.add(k);
  timer ??= setTimeout(
    () => {
      timer = undefined;
      lastRun = Date.now();
      const now = [...due];
      due.clear();
      for (const k of now) loaders[k]().catch(() => undefined);
    },
    Math.max(GATHER_MS, lastRun + COALESCE_MS - Date.now()),
  );
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
