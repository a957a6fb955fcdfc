import { isApiError } from "../client/errors.js";
import type { Client } from "../client/client.js";
import type { Task } from "../core/types.js";
import { errorText, isTransient, type AgentContext, type HeldTask } from "./context.js";
import { reportAgents, reportRepos, type HeldSummary } from "./heartbeat-report.js";
import { Ledger, ledgerPath } from "./ledger.js";
import type { AgentLogger } from "./logger.js";
import { createMessageDelivery } from "./message-delivery.js";
import { MetricsSampler } from "./metrics.js";
import { readState, type McState } from "./multiclaude-state.js";
import { MIN_HEARTBEAT_MS, type AgentOptions } from "./options.js";
import { RepoMap } from "./repo-map.js";
import { cancelTasks, checkWorkers, releaseHeld, startWorker } from "./task-runner.js";
import { backoff, Wakeup } from "./wait.js";
import { workerEnv } from "./worker-env.js";

/** created → registering → running → draining → stopped (or straight to stopped on a second signal). */
export type AgentPhase = "created" | "registering" | "running" | "draining" | "stopped";

/** Exit code after a second signal: left at once, claims left to lease expiry. */
export const EXIT_INTERRUPTED = 130;

/**
 * The worker-pool process: registers this node, heartbeats (metrics, multiclaude's agents,
 * open PRs, held tasks), claims fitting tasks with a long poll while it has free slots,
 * starts a multiclaude worker for each, reports each finished worker's PR or failure,
 * delivers messages into multiclaude's message files, and drains on `drain()`.
 *
 * Three loops share this object: heartbeat (every interval), claim (while slots are free) and
 * watch (reads state.json every check interval). A task is never dropped silently: it is
 * completed or failed from its worker's outcome, released, or left to lease expiry (and to a
 * restarted agent, through the ledger).
 */
export class Agent implements AgentContext {
  readonly held = new Map<string, HeldTask>();
  readonly repos: RepoMap;
  readonly log: AgentLogger;
  readonly client: Client;
  readonly env: NodeJS.ProcessEnv;
  private phaseValue: AgentPhase = "created";
  private lastState: McState = { repos: {} };
  private readonly ledger: Ledger;
  private readonly metrics = new MetricsSampler();
  private heartbeatMs = 30_000;
  private readonly wakeClaim = new Wakeup();
  private readonly wakeHeartbeat = new Wakeup();
  private readonly wakeWatch = new Wakeup();
  private claimAbort?: AbortController;
  private drainStartedAt = 0;
  private immediate = false;
  private heartbeatFailures = 0;
  /** Claims the coordinator lists for this node that we do not hold, seen at the last check. */
  private unknownClaims = new Set<string>();
  private readonly background = new Set<Promise<void>>();
  private readonly deliver: () => Promise<void>;
  private stopped!: () => void;
  private readonly stoppedPromise = new Promise<void>((resolve) => (this.stopped = resolve));

  constructor(readonly options: AgentOptions) {
    this.client = options.client;
    this.log = options.logger;
    this.env = workerEnv({ env: options.env ?? process.env, token: options.coordinatorToken });
    this.repos = new RepoMap(options.repos);
    this.ledger = new Ledger(options.ledgerPath ?? ledgerPath(options.multiclaudeHome, options.nodeId), options.nodeId);
    this.deliver = createMessageDelivery(this);
  }

  get phase(): AgentPhase {
    return this.phaseValue;
  }

  /** A method, not a narrowed property read: the phase changes while loops await. */
  private isStopped(): boolean {
    return this.phaseValue === "stopped";
  }

  now(): number {
    return this.options.now?.() ?? Date.now();
  }

  state(): McState {
    return this.lastState;
  }

  /** Reads state.json; keeps the last good snapshot when it cannot be read. */
  private readState(): McState {
    const s = readState(this.options.multiclaudeHome);
    if (s) this.lastState = s;
    return this.lastState;
  }

  changed(): void {
    this.saveLedger();
    this.wakeClaim.wake();
  }

  private saveLedger(): void {
    try {
      this.ledger.save([...this.held.values()].map(({ task, slot, localRepo, worker, startedAt }) => ({ task, slot, localRepo, worker, startedAt })));
    } catch (err) {
      this.log.log("warn", "ledger.write_failed", `cannot write ${this.ledger.path}: ${errorText(err)}`);
    }
  }

  /**
   * Runs until drained (exit code 0) or stopped at once (130). Throws when the coordinator
   * refuses the registration for good (bad token, bad labels).
   */
  async run(): Promise<number> {
    if (this.phaseValue !== "created") throw new Error("an agent runs once");
    this.phaseValue = "registering";
    this.readState();
    this.adoptLedger();
    if (!(await this.registerUntilDone())) {
      this.setStopped();
      return this.immediate ? EXIT_INTERRUPTED : 0;
    }
    if (this.phase === "registering") this.phaseValue = "running";
    const loops = Promise.all([this.heartbeatLoop(), this.claimLoop(), this.watchLoop()]).then(() => undefined);
    this.track(this.deliver());
    // A second signal does not wait for requests in flight.
    await Promise.race([loops, this.stoppedPromise.then(() => (this.immediate ? undefined : loops))]);
    if (this.immediate) {
      this.saveLedger();
      return EXIT_INTERRUPTED;
    }
    await Promise.allSettled([...this.background]);
    await this.leave();
    return 0;
  }

  /** First SIGTERM/SIGINT: no new claims, report `draining`, let workers finish for the grace period. */
  drain(reason = "asked to stop"): void {
    if (this.phase === "stopped" || this.phase === "draining") return;
    if (this.phase === "created" || this.phase === "registering") {
      this.setStopped();
      return;
    }
    this.phaseValue = "draining";
    this.drainStartedAt = this.now();
    this.claimAbort?.abort(new Error("draining"));
    this.log.log(
      "info",
      "agent.draining",
      `${reason}: draining (no new claims); waiting up to ${Math.round(this.options.gracePeriodMs / 1000)}s for ${this.held.size} running task(s)`,
      { held: this.held.size, grace_period_ms: this.options.gracePeriodMs },
    );
    this.wakeHeartbeat.wake();
    this.wakeWatch.wake();
    this.wakeClaim.wake();
  }

  /** Second signal: leave now. Held tasks stay claimed until their leases run out (workers keep running; the ledger remembers them). */
  stopNow(reason = "asked again"): void {
    if (this.phase === "stopped") return;
    this.immediate = true;
    this.log.log("warn", "agent.stopping", `${reason}: stopping at once; ${this.held.size} task(s) left to lease expiry`, { held: this.held.size });
    this.claimAbort?.abort(new Error("stopping"));
    // Requests in flight (a long poll, retries during an outage) must not hold the exit up.
    this.client.transport.pool.destroy().catch(() => {});
    this.setStopped();
  }

  private setStopped(): void {
    this.phaseValue = "stopped";
    this.wakeHeartbeat.wake();
    this.wakeWatch.wake();
    this.wakeClaim.wake();
    this.stopped();
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err) => this.log.log("error", "agent.error", `unexpected error: ${errorText(err)}`)).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  // ── registration ────────────────────────────────────────────────────────

  /** Registers, retrying with backoff while the coordinator is unreachable; false if stopped meanwhile. */
  private async registerUntilDone(): Promise<boolean> {
    const o = this.options;
    const request = {
      node_id: o.nodeId,
      hostname: o.hostname,
      labels: o.labels,
      capacity: { max_workers: o.maxWorkers, current_workers: this.held.size },
    };
    for (let failures = 0; ; ) {
      if (this.phase !== "registering") return false;
      try {
        const res = await this.client.register(request);
        this.heartbeatMs = Math.max(MIN_HEARTBEAT_MS, o.heartbeatIntervalMs ?? (res.heartbeat_interval_seconds * 1000 || 30_000));
        this.log.log(
          "info",
          "agent.registered",
          `registered node ${o.nodeId} with ${this.client.url} (max_workers ${o.maxWorkers}, labels ${labelText(o.labels)}, heartbeat every ${this.heartbeatMs / 1000}s)`,
          { node_id: o.nodeId, max_workers: o.maxWorkers },
        );
        return true;
      } catch (err) {
        if (!isTransient(err)) throw err;
        failures++;
        const wait = backoff(failures, 500, 30_000);
        if (failures === 1 || failures % 10 === 0) {
          this.log.log("warn", "agent.register_failed", `cannot register yet (${errorText(err)}); retrying in ${(wait / 1000).toFixed(1)}s`, { failures });
        }
        await this.wakeHeartbeat.wait(wait);
      }
    }
  }

  /** Takes over the tasks an earlier run of this node left in the ledger. */
  private adoptLedger(): void {
    for (const entry of this.ledger.load()) {
      const worker = entry.worker ?? this.findAgentFor(entry.localRepo, entry.task.description);
      const held: HeldTask = { ...entry, worker, phase: worker ? "running" : "stopping" };
      this.held.set(entry.task.id, held);
      if (worker) {
        this.log.log("info", "task.adopted", `picked up ${entry.task.id} (worker ${worker}) from an earlier run`, { task_id: entry.task.id, worker });
      }
    }
  }

  private findAgentFor(localRepo: string, description: string): string | undefined {
    const agents = this.lastState.repos[localRepo]?.agents ?? {};
    return Object.entries(agents).find(([, a]) => a?.task === description)?.[0];
  }

  // ── heartbeat ───────────────────────────────────────────────────────────

  private async heartbeatLoop(): Promise<void> {
    // Tasks from the ledger whose worker never started are given back first.
    for (const held of [...this.held.values()].filter((h) => h.phase === "stopping")) {
      await releaseHeld(this, held, "agent restarted before the worker started");
    }
    while (this.phase !== "stopped") {
      await this.heartbeatOnce();
      if (this.isStopped()) break;
      const f = this.heartbeatFailures;
      await this.wakeHeartbeat.wait(f ? backoff(f, this.heartbeatMs, 4 * this.heartbeatMs) : this.heartbeatMs);
    }
  }

  private heldSummaries(): HeldSummary[] {
    return [...this.held.values()].map((h) => ({
      taskId: h.task.id,
      localRepo: h.localRepo,
      worker: h.worker,
    }));
  }

  private async heartbeatOnce(): Promise<void> {
    const state = this.readState();
    try {
      const res = await this.client.heartbeat({
        status: this.phase === "draining" ? "draining" : "healthy",
        agents: reportAgents(state, this.heldSummaries(), this.repos),
        metrics: this.metrics.sample(),
        repos: reportRepos(state, this.repos),
        capacity: { current_workers: this.held.size },
      });
      if (this.heartbeatFailures > 0) {
        this.log.log("info", "coordinator.reachable", `coordinator reachable again after ${this.heartbeatFailures} failed heartbeat(s)`);
        this.wakeClaim.wake(); // a claim loop in backoff need not wait any longer
      }
      this.heartbeatFailures = 0;
      // Stop commands run beside the heartbeats: leases must not wait for them.
      if (res.cancelled_task_ids.length) this.track(cancelTasks(this, res.cancelled_task_ids));
      if (res.pending_messages > 0) this.track(this.deliver());
      await this.reconcileClaims();
    } catch (err) {
      this.heartbeatFailures++;
      if (this.heartbeatFailures === 1 || this.heartbeatFailures % 10 === 0) {
        const level = isTransient(err) ? "warn" : "error";
        this.log.log(level, "coordinator.unreachable", `heartbeat failed (${errorText(err)}); workers keep running, retrying with backoff`, {
          failures: this.heartbeatFailures,
        });
      }
    }
  }

  /**
   * Claims the coordinator lists for this node but this process does not hold (a claim whose
   * answer was lost, an earlier run's task without a ledger entry) would be renewed by every
   * heartbeat forever. One seen at two checks in a row is released.
   */
  private async reconcileClaims(): Promise<void> {
    if (this.phase === "stopped") return;
    let claimed: string[];
    try {
      claimed = (await this.client.getNode(this.options.nodeId)).claimed_tasks;
    } catch {
      return;
    }
    const unknown = claimed.filter((id) => !this.held.has(id));
    const next = new Set<string>();
    for (const id of unknown) {
      if (!this.unknownClaims.has(id)) {
        next.add(id);
        continue;
      }
      try {
        await this.client.releaseTask(id, { reason: "claimed by this node but not running here" });
        this.log.log("warn", "task.released", `released ${id}: the coordinator lists it as ours but no worker here runs it`, { task_id: id });
      } catch (err) {
        if (isTransient(err)) next.add(id);
      }
    }
    this.unknownClaims = next;
  }

  // ── claims ──────────────────────────────────────────────────────────────

  private freeSlot(): string {
    const used = new Set([...this.held.values()].map((h) => h.slot));
    for (let i = 1; ; i++) if (!used.has(`slot-${i}`)) return `slot-${i}`;
  }

  private async claimLoop(): Promise<void> {
    let failures = 0;
    while (this.phase === "running") {
      if (this.held.size >= this.options.maxWorkers) {
        await this.wakeClaim.wait(this.heartbeatMs);
        continue;
      }
      const slot = this.freeSlot();
      const abort = new AbortController();
      this.claimAbort = abort;
      try {
        const task = await this.client.claimNext({ workerName: slot, waitSeconds: this.options.claimWaitMs / 1000, signal: abort.signal });
        failures = 0;
        if (task) await this.accept(task, slot);
      } catch (err) {
        if (this.phase !== "running") break;
        failures++;
        let wait = backoff(failures, 500, 30_000);
        if (isApiError(err, "NODE_AT_CAPACITY") || isApiError(err, "NODE_OFFLINE")) {
          // The coordinator counts claims we do not (they are reconciled) or saw no heartbeat lately.
          wait = this.heartbeatMs;
          this.wakeHeartbeat.wake();
        }
        if (failures === 1 || failures % 10 === 0) {
          this.log.log(isTransient(err) ? "warn" : "error", "task.claim_failed", `claim failed (${errorText(err)}); retrying in ${(wait / 1000).toFixed(1)}s`, { failures });
        }
        // Woken early by a drain or a freed slot, which is fine for a retry.
        await this.wakeClaim.wait(wait);
      } finally {
        if (this.claimAbort === abort) this.claimAbort = undefined;
      }
    }
  }

  private async accept(task: Task, slot: string): Promise<void> {
    const held: HeldTask = { task, slot, localRepo: this.repos.toLocal(task.repo), startedAt: this.now(), phase: "starting" };
    this.held.set(task.id, held);
    this.changed();
    this.log.log("info", "task.claimed", `claimed ${task.id} (${task.priority}, repo ${task.repo}) as ${slot}: ${firstLine(task.description)}`, {
      task_id: task.id,
      repo: task.repo,
      slot,
      attempt: task.attempts,
    });
    if (this.phase !== "running") {
      // The answer crossed the drain: give it straight back.
      await releaseHeld(this, held, "agent is draining");
      return;
    }
    this.track(startWorker(this, held));
  }

  // ── watching workers, draining ──────────────────────────────────────────

  private async watchLoop(): Promise<void> {
    while (this.phase !== "stopped") {
      await checkWorkers(this, this.readState());
      if (this.phase === "draining") {
        if (this.held.size === 0) {
          this.log.log("info", "agent.drained", "all tasks finished");
          this.setStopped();
          break;
        }
        if (this.now() - this.drainStartedAt >= this.options.gracePeriodMs) {
          this.log.log("warn", "agent.grace_over", `grace period over; releasing ${this.held.size} task(s)`, { held: this.held.size });
          for (const held of [...this.held.values()]) await releaseHeld(this, held, "agent shut down before the worker finished");
          this.setStopped();
          break;
        }
      }
      await this.wakeWatch.wait(this.options.checkIntervalMs);
    }
  }

  /** After draining: leave the coordinator (which also releases anything still claimed). */
  private async leave(): Promise<void> {
    this.saveLedger();
    try {
      await this.client.deregister();
      this.log.log("info", "agent.deregistered", `deregistered node ${this.options.nodeId}`);
    } catch (err) {
      this.log.log("warn", "agent.deregister_failed", `could not deregister (${errorText(err)}); the node goes offline by itself`);
    }
  }
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(",") : "none";
}

/** Creates an agent; `run()` it, and call `drain()` / `stopNow()` from signal handlers. */
export function createAgent(options: AgentOptions): Agent {
  return new Agent(options);
}
