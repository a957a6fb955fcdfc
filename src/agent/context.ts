import type { Client } from "../client/client.js";
import { isApiError, isConnectionError } from "../client/errors.js";
import type { LedgerEntry } from "./ledger.js";
import type { AgentLogger } from "./logger.js";
import type { McState } from "./multiclaude-state.js";
import type { AgentOptions } from "./options.js";
import type { RepoMap } from "./repo-map.js";

/** What a finished worker's task is reported as. */
export type Outcome = { kind: "complete"; pr?: string; summary?: string; branch?: string } | { kind: "fail"; reason: string; retry: boolean };

/** A task this node holds, from claim until it is reported, released or stopped. */
export interface HeldTask extends LedgerEntry {
  /**
   * starting: the start command runs · running: the worker works · reporting: its outcome is
   * being (or waits to be) sent · stopping: cancelled or released, the worker is being stopped.
   */
  phase: "starting" | "running" | "reporting" | "stopping";
  /** The coordinator cancelled it while the worker was still starting. */
  cancelRequested?: boolean;
  outcome?: Outcome;
  /** When we first saw its process gone while multiclaude still listed it. */
  deadSince?: number;
}

/** The state the parts of the agent share (implemented by the agent core, see agent-core.ts). */
export interface AgentContext {
  readonly options: AgentOptions;
  readonly client: Client;
  readonly log: AgentLogger;
  readonly held: Map<string, HeldTask>;
  readonly repos: RepoMap;
  readonly env: NodeJS.ProcessEnv;
  now(): number;
  /** The last state.json that could be read. */
  state(): McState;
  /** Reads state.json now (keeps the last good snapshot when it cannot be read). */
  readState(): McState;
  /** A start command failed: the claim loop waits (backing off) before it spends a slot again. */
  startFailed(): void;
  /** A worker started: the start backoff is over. */
  startSucceeded(): void;
  /** Held tasks changed: persist them, and wake the claim loop when a slot came free. */
  changed(): void;
}

/** The lowest `slot-N` no held task uses (slots name the worker in claims: `slot-2@node`). */
export function freeSlot(held: ReadonlyMap<string, HeldTask>): string {
  const used = new Set([...held.values()].map((h) => h.slot));
  for (let i = 1; ; i++) if (!used.has(`slot-${i}`)) return `slot-${i}`;
}

/** Errors after which the same request may work later (outage, overload); anything else will not. */
export function isTransient(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  if (isApiError(err)) return err.status === 429 || err.status >= 500;
  return false;
}

export function errorText(err: unknown): string {
  if (isApiError(err)) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
