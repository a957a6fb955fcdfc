import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "../core/types.js";
import type { McState } from "./multiclaude-state.js";

/** A message file as multiclaude reads it (`~/.multiclaude/messages/<repo>/<agent>/msg-<id>.json`). */
export interface McMessageFile {
  id: string;
  from: string;
  to: string;
  timestamp: string;
  body: string;
  /** multiclaude moves it on: pending → delivered → read → acked. */
  status: "pending";
  acked_at: null;
}

/** A path component we create: no separators, no `.`/`..`, nothing hidden. */
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isSafeName(name: string): boolean {
  return SAFE.test(name) && name.length <= 128;
}

/** `msg-<id>.json`; coordinator ids already start with `msg-`, which is not doubled. */
export function messageFileName(id: string): string {
  return `${id.startsWith("msg-") ? id : `msg-${id}`}.json`;
}

export function messageFilePath(home: string, repo: string, agent: string, id: string): string {
  for (const [what, name] of [["repo", repo], ["agent", agent], ["message id", id]] as const) {
    if (!isSafeName(name)) throw new Error(`unsafe ${what} for a message file: ${JSON.stringify(name)}`);
  }
  return join(home, "messages", repo, agent, messageFileName(id));
}

/** The file contents for a coordinator message; `to` is the local agent name, `from` stays `agent@node` so replies can be routed. */
export function toMessageFile(message: Message): McMessageFile {
  return {
    id: message.id,
    from: message.from,
    to: message.to_agent,
    timestamp: message.created_at,
    body: message.body,
    status: "pending",
    acked_at: null,
  };
}

/**
 * Writes the message file atomically (temp file in the same folder, then rename), so
 * multiclaude never reads half a file. A file that exists already is left alone: multiclaude
 * may have moved it on to delivered or read. Returns the path and whether it was written now.
 */
export function writeMessageFile(home: string, repo: string, message: Message): { path: string; written: boolean } {
  const path = messageFilePath(home, repo, message.to_agent, message.id);
  if (existsSync(path)) return { path, written: false };
  const dir = join(home, "messages", repo, message.to_agent);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${messageFileName(message.id)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, `${JSON.stringify(toMessageFile(message), null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { path, written: true };
}

/**
 * The local multiclaude repo a message goes to: the message's repo (through the repo map), else
 * the repo whose agents include the recipient, else the only repo, else `current_repo`.
 * Undefined when nothing tells (the message then waits on the coordinator).
 */
export function messageRepo(message: Pick<Message, "repo" | "to_agent">, state: McState, toLocal: (repo: string) => string): string | undefined {
  if (message.repo) return toLocal(message.repo);
  const names = Object.keys(state.repos);
  const withAgent = names.filter((r) => state.repos[r]?.agents?.[message.to_agent] !== undefined);
  if (withAgent.length >= 1) return withAgent[0];
  if (names.length === 1) return names[0];
  return state.current_repo;
}
