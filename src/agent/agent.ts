import { createAgentCore, type AgentPhase } from "./agent-core.js";
import { registerUntilDone } from "./agent-registration.js";
import { claimLoop } from "./claim-loop.js";
import { leave, startDrain, stopAtOnce, watchLoop } from "./drain.js";
import { createHeartbeatLoop } from "./heartbeat-loop.js";
import { createMessageDelivery } from "./message-delivery.js";
import { createMetricsSampler } from "./metrics.js";
import type { AgentOptions } from "./options.js";
import { reconcile } from "./reconcile.js";

export type { AgentPhase } from "./agent-core.js";

/** Exit code after a second signal: left at once, claims left to lease expiry. */
export const EXIT_INTERRUPTED = 130;

/**
 * The worker-pool process: registers this node, heartbeats (metrics, multiclaude's agents,
 * open PRs, held tasks), claims fitting tasks with a long poll while it has free slots,
 * starts a multiclaude worker for each, reports each finished worker's PR or failure,
 * delivers messages into multiclaude's message files, and drains on `drain()`.
 *
 * Three loops share one core: heartbeat (every interval), claim (while slots are free) and
 * watch (reads state.json every check interval). A task is never dropped silently: it is
 * completed or failed from its worker's outcome, released, or left to lease expiry (and to a
 * restarted agent, through the ledger).
 */
export interface Agent {
  readonly phase: AgentPhase;
  /**
   * Runs until drained (exit code 0) or stopped at once (130). Throws when the coordinator
   * refuses the registration for good (bad token, bad labels).
   */
  run(): Promise<number>;
  /** First SIGTERM/SIGINT: no new claims, report `draining`, let workers finish for the grace period. */
  drain(reason?: string): void;
  /** Second signal: leave now. Held tasks stay claimed until their leases run out (workers keep running; the ledger remembers them). */
  stopNow(reason?: string): void;
}

/** Creates an agent; `run()` it, and call `drain()` / `stopNow()` from signal handlers. */
export function createAgent(options: AgentOptions): Agent {
  const core = createAgentCore(options);
  const deliver = createMessageDelivery(core);
  const heartbeatLoop = createHeartbeatLoop(core, { metrics: createMetricsSampler(), deliver });

  async function run(): Promise<number> {
    if (core.phase() !== "created") throw new Error("an agent runs once");
    core.setPhase("registering");
    core.readState();
    const earlier = core.ledger.load();
    if (!(await registerUntilDone(core))) {
      core.setStopped();
      return core.immediate ? EXIT_INTERRUPTED : 0;
    }
    // Before any claim: what an earlier run left is adopted, stopped or released.
    await reconcile(core, earlier);
    if (core.phase() === "registering") core.setPhase("running");
    const loops = Promise.all([heartbeatLoop(), claimLoop(core), watchLoop(core)]).then(() => undefined);
    core.track(deliver());
    // A second signal does not wait for requests in flight.
    await Promise.race([loops, core.stoppedPromise.then(() => (core.immediate ? undefined : loops))]);
    if (core.immediate) {
      core.saveLedger();
      return EXIT_INTERRUPTED;
    }
    await core.settled();
    await leave(core);
    return 0;
  }

  return {
    get phase() {
      return core.phase();
    },
    run,
    drain: (reason = "asked to stop") => startDrain(core, reason),
    stopNow: (reason = "asked again") => stopAtOnce(core, reason),
  };
}
