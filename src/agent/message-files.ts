import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Message } from "../core/types.js";
import type { McState } from "./multiclaude-state.js";

/**
 * A message file as multiclaude writes and reads it (`~/.multiclaude/messages/<repo>/<agent>/<id>.json`,
 * keys in this order, `acked_at` only once acked). Only `pending` files are delivered, the folder
 * (not `to`) picks the recipient, and a file not named `<id>.json` is re-typed on every pass.
 */
export interface McMessageFile {
  id: string;
  from: string;
  to: string;
  timestamp: string;
  body: string;
  /** multiclaude moves it on: pending → delivered → read → acked. */
  status: "pending";
}

/** A path component we create: no separators, no `.`/`..`, nothing hidden. */
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isSafeName(name: string): boolean {
  return SAFE.test(name) && name.length <= 128;
}

/**
 * The multiclaude message id for a coordinator message: `msg-` and 13 characters shaped like the
 * start of a UUID (`msg-1b2ca98c-ac9f`), as multiclaude makes them. Derived from the coordinator
 * id, so a second delivery of the same message finds its file instead of writing another.
 */
export function mcMessageId(coordinatorId: string): string {
  const h = createHash("sha256").update(coordinatorId).digest("hex");
  return `msg-${h.slice(0, 8)}-${h.slice(8, 12)}`;
}

/** `<id>.json`, the only name multiclaude treats as a message file. */
export function messageFileName(coordinatorId: string): string {
  return `${mcMessageId(coordinatorId)}.json`;
}

export function messageFilePath(home: string, repo: string, agent: string, coordinatorId: string): string {
  for (const [what, name] of [["repo", repo], ["agent", agent]] as const) {
    if (!isSafeName(name)) throw new Error(`unsafe ${what} for a message file: ${JSON.stringify(name)}`);
  }
  return join(home, "messages", repo, agent, messageFileName(coordinatorId));
}

/** The file contents for a coordinator message; `to` is the local agent name, `from` stays `agent@node` so replies can be routed. */
export function toMessageFile(message: Message): McMessageFile {
  return {
    id: mcMessageId(message.id),
    from: message.from,
    to: message.to_agent,
    timestamp: message.created_at,
    body: message.body,
    status: "pending",
  };
}

/** The file's bytes: 2-space JSON without a trailing newline, as multiclaude writes it. */
export function messageFileText(message: Message): string {
  return JSON.stringify(toMessageFile(message), null, 2);
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
  // Not ending in .json: multiclaude never picks up the half-written temp file.
  const tmp = join(dir, `.${messageFileName(message.id)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, messageFileText(message), { mode: 0o600 });
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
