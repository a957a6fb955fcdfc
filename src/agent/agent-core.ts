import type { Client } from "../client/client.js";
import type { Task } from "../core/types.js";
import { errorText, type AgentContext, type HeldTask } from "./context.js";
import { createLedger, ledgerPath, type Ledger } from "./ledger.js";
import type { AgentLogger } from "./logger.js";
import { readState, type McState } from "./multiclaude-state.js";
import type { AgentOptions } from "./options.js";
import { createRepoMap, type RepoMap } from "./repo-map.js";
import { backoff, createWakeup, type Wakeup } from "./wait.js";
import { workerEnv } from "./worker-env.js";

/** A worker whose start command may still be running from an earlier run: stopped if it shows up unowned (see reconcile.ts). */
export interface Stray {
  localRepo: string;
  task: Pick<Task, "id" | "description">;
  until: number;
}

/** created → registering → running → draining → stopped (or straight to stopped on a second signal). */
export type AgentPhase = "created" | "registering" | "running" | "draining" | "stopped";

/**
 * What the parts of one agent share (registration, the heartbeat, claim and watch loops, the
 * drain): the `AgentContext` that task-runner and message delivery use, plus the phase, the
 * wake-up calls of the three loops, and the ledger.
 */
export interface AgentCore extends AgentContext {
  /** A method, not a property: the phase changes while loops await, so it must not be narrowed. */
  phase(): AgentPhase;
  setPhase(phase: AgentPhase): void;
  isStopped(): boolean;
  /** Heartbeat interval, set by the registration. */
  heartbeatMs: number;
  /** Stopped by a second signal: leave without waiting for anything. */
  immediate: boolean;
  drainStartedAt: number;
  /** The claim request in flight, aborted by a drain or a stop. */
  claimAbort?: AbortController;
  readonly wake: { readonly claim: Wakeup; readonly heartbeat: Wakeup; readonly watch: Wakeup };
  readonly ledger: Ledger;
  saveLedger(): void;
  /** Until when the claim loop leaves free slots alone after failed starts (0: no backoff). */
  startBackoffUntil: number;
  /** The repos filter (comma-joined) of the claim in flight, so the watch loop can tell a change. */
  claimingFor: string;
  /** The registration id the held tasks were last reconciled for (see reconcile.ts); undefined: not yet. */
  reconciledFor: string | undefined;
  /** Tasks given up while a start command of theirs may still create a worker (see reconcile.ts). */
  strays: Stray[];
  /** Enters `stopped` and wakes every loop so it can see it. */
  setStopped(): void;
  /** Resolves once the agent is stopped. */
  readonly stoppedPromise: Promise<void>;
  /** Runs `p` beside the loops; its errors are logged. */
  track(p: Promise<void>): void;
  /** Settles once every tracked promise has. */
  settled(): Promise<void>;
}

export function createAgentCore(options: AgentOptions): AgentCore {
  return new SharedCore(options);
}

class SharedCore implements AgentCore {
  readonly held = new Map<string, HeldTask>();
  readonly repos: RepoMap;
  readonly log: AgentLogger;
  readonly client: Client;
  readonly env: NodeJS.ProcessEnv;
  readonly ledger: Ledger;
  readonly wake = { claim: createWakeup(), heartbeat: createWakeup(), watch: createWakeup() };
  heartbeatMs = 30_000;
  immediate = false;
  drainStartedAt = 0;
  claimAbort?: AbortController;
  startBackoffUntil = 0;
  claimingFor = "";
  reconciledFor: string | undefined = undefined;
  strays: Stray[] = [];
  private startFailures = 0;
  private phaseValue: AgentPhase = "created";
  private lastState: McState = { repos: {} };
  private readonly background = new Set<Promise<void>>();
  private stopped!: () => void;
  readonly stoppedPromise = new Promise<void>((resolve) => (this.stopped = resolve));

  constructor(readonly options: AgentOptions) {
    this.client = options.client;
    this.log = options.logger;
    this.env = workerEnv({ env: options.env ?? process.env, token: options.coordinatorToken });
    this.repos = createRepoMap(options.repos);
    this.ledger = createLedger({ path: options.ledgerPath ?? ledgerPath(options.multiclaudeHome, options.nodeId), nodeId: options.nodeId });
  }

  phase(): AgentPhase {
    return this.phaseValue;
  }

  setPhase(phase: AgentPhase): void {
    this.phaseValue = phase;
  }

  isStopped(): boolean {
    return this.phaseValue === "stopped";
  }

  now(): number {
    return this.options.now?.() ?? Date.now();
  }

  state(): McState {
    return this.lastState;
  }

  readState(): McState {
    const s = readState(this.options.multiclaudeHome);
    if (s) this.lastState = s;
    return this.lastState;
  }

  startFailed(): void {
    this.startFailures++;
    this.startBackoffUntil = this.now() + backoff(this.startFailures, 2_000, 120_000);
  }

  startSucceeded(): void {
    this.startFailures = 0;
    this.startBackoffUntil = 0;
  }

  changed(): void {
    this.saveLedger();
    this.wake.claim.wake();
  }

  saveLedger(): void {
    try {
      this.ledger.save([...this.held.values()].map(({ task, slot, localRepo, worker, startedAt }) => ({ task, slot, localRepo, worker, startedAt })));
    } catch (err) {
      this.log.log("warn", "ledger.write_failed", `cannot write ${this.ledger.path}: ${errorText(err)}`);
    }
  }

  setStopped(): void {
    this.phaseValue = "stopped";
    this.wake.heartbeat.wake();
    this.wake.watch.wake();
    this.wake.claim.wake();
    this.stopped();
  }

  track(p: Promise<void>): void {
    const tracked = p.catch((err) => this.log.log("error", "agent.error", `unexpected error: ${errorText(err)}`)).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }
}
