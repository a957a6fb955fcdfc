import { CoordError } from "../core/errors.js";
import type { Caller } from "../core/identity.js";
import * as rules from "../core/tasks.js";
import type { NodeRecord, Task } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import { endAndSettle } from "./dependent-settle.js";
import { nodeForRegistration } from "./node-service.js";
import type { CompleteInput, CoordinatorContext, FailInput, ReleaseInput } from "./types.js";

/** The task, or 404 TASK_NOT_FOUND. */
export async function requireTask(tx: Pick<StoreTx, "getTask">, id: string): Promise<Task> {
  const task = await tx.getTask(id);
  if (!task) throw new CoordError("TASK_NOT_FOUND", `task ${id} not found`, { task_id: id });
  return task;
}

function withoutClaim(node: NodeRecord, taskId: string): NodeRecord {
  return { ...node, claimed_tasks: node.claimed_tasks.filter((id) => id !== taskId) };
}

/**
 * The node's claim on a task ends (complete, fail, release): task and node change together, and
 * a task that ended for good has its dependents settled (see `endAndSettle`).
 */
async function finishTransition(
  ctx: CoordinatorContext,
  registrationId: string,
  caller: Caller | undefined,
  taskId: string,
  step: (task: Task, node: NodeRecord, ts: string) => rules.Transition,
): Promise<Task> {
  const ts = ctx.now().toISOString();
  return endAndSettle(ctx, async (tx, readDependents) => {
    // The reads go out together (on Redis one round trip instead of two); a registration error
    // still comes first.
    const nodeRead = nodeForRegistration(tx, registrationId, caller);
    const taskRead = requireTask(tx, taskId);
    readDependents(taskId);
    void taskRead.catch(() => {});
    const node = await nodeRead;
    const task = await taskRead;
    const t = step(task, node, ts);
    tx.putTask(t.task);
    if (node.claimed_tasks.includes(taskId)) tx.putNode(withoutClaim(node, taskId));
    tx.emit(t.event);
    return t.task;
  });
}

/**
 * How a claim or a task ends: complete, fail, release, unclaim, cancel, lease expiry. Each is one
 * write of the task (and its node); a task that ended for good readies or cancels its waiting
 * dependents in that write, or, should it lose races to their creates, in follow-up writes
 * (`endAndSettle`, dependent-settle.ts), so creates can never starve its end.
 */
export function createTaskEnds(ctx: CoordinatorContext) {
  return {
    complete(taskId: string, input: CompleteInput, caller?: Caller): Promise<Task> {
      return finishTransition(ctx, input.registration_id, caller, taskId, (task, node, ts) =>
        rules.completeTask(task, node.id, { pr: input.pr, summary: input.summary, branch: input.branch }, ts),
      );
    },

    fail(taskId: string, input: FailInput, caller?: Caller): Promise<Task> {
      return finishTransition(ctx, input.registration_id, caller, taskId, (task, node, ts) =>
        rules.failTask(task, node.id, input.reason, input.retry ?? true, ts, ctx.retryBackoffMs),
      );
    },

    release(taskId: string, input: ReleaseInput, caller?: Caller): Promise<Task> {
      return finishTransition(ctx, input.registration_id, caller, taskId, (task, node, ts) =>
        rules.releaseTask(task, node.id, input.reason ?? "released", ts),
      );
    },

    /** Undoes a claim whose answer reached nobody (see `rules.unclaimTask`). */
    unclaim(taskId: string, registrationId: string, reason: string): Promise<Task> {
      return finishTransition(ctx, registrationId, undefined, taskId, (task, node, ts) => rules.unclaimTask(task, node.id, reason, ts));
    },

    /** Cancels an unfinished task; its claimant learns of it in its heartbeat responses. */
    async cancel(taskId: string, reason: string | null): Promise<Task> {
      const ts = ctx.now().toISOString();
      return endAndSettle(ctx, async (tx, readDependents) => {
        readDependents(taskId);
        const task = await requireTask(tx, taskId);
        const t = rules.cancelTask(task, reason, ts);
        tx.putTask(t.task);
        const working = rules.workingNode(task);
        if (working) {
          const node = await tx.getNode(working);
          if (node) {
            const next = withoutClaim(node, taskId);
            tx.putNode({ ...next, cancelled_tasks: [...node.cancelled_tasks, { task_id: taskId, cancelled_at: ts }] });
          }
        }
        tx.emit(t.event);
        return t.task;
      });
    },

    /** Moves one expired lease to orphaned (or failed); a no-op if another sweep got there first. */
    async expire(taskId: string): Promise<boolean> {
      const now = ctx.now();
      const expired = await endAndSettle(ctx, async (tx, readDependents) => {
        readDependents(taskId);
        const task = await tx.getTask(taskId);
        if (!task || !rules.leaseExpired(task, now.getTime())) return undefined;
        const t = rules.expireLease(task, now.toISOString());
        tx.putTask(t.task);
        const node = task.claimed_node ? await tx.getNode(task.claimed_node) : undefined;
        if (node?.claimed_tasks.includes(taskId)) tx.putNode(withoutClaim(node, taskId));
        tx.emit(t.event);
        return t.task;
      });
      return expired !== undefined;
    },
  };
}
