import { CoordError, isCoordError } from "../core/errors.js";
import type { Caller } from "../core/identity.js";
import { labelsSatisfied } from "../core/labels.js";
import * as rules from "../core/tasks.js";
import { hasConcurrencyRoom } from "../core/concurrency.js";
import { deadDependencyError, dependencyReason, dependencyState, waitingOn } from "../core/dependencies.js";
import { readyTask, retryTask } from "../core/workflow.js";
import type { NodeRecord, Task } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import { NOT_FOR_THIS_WAITER } from "./claim-waiters.js";
import { checkDependentsRoom, readDependencies } from "./dependencies.js";
import { createFastClaims } from "./fast-claims.js";
import { nodeForRegistration } from "./node-service.js";
import { createTaskEnds, requireTask } from "./task-ends.js";
import { atIndex, prepareCreate, type PreparedCreate } from "./task-create.js";
import type {
  ClaimInput,
  ClaimNextInput,
  CoordinatorContext,
  CreateTaskInput,
  PendingInput,
  TaskListInput,
} from "./types.js";


/** How many of the best tasks a claim that lost a race chooses among on its next try (doubling per lost race). */
const CONTENDED_SPREAD = 8;
const MAX_SPREAD = 64;
/** Online nodes read at a time while looking for one that could take a new labelled task. */
const PLACEMENT_PAGE = 20;
/**
 * How far past tasks in their cooldown for this node a claim looks for one it may take. Tasks
 * of a full concurrency key are not looked at: the pending list leaves their bucket out
 * (`withRoom`), one count per key however many tasks it holds. The store's one-step claim
 * (Store.claimNext) looks alike.
 */
export const COOLDOWN_LOOKAHEAD = 32;

/**
 * Whether a task may go to this node now (cooldown, concurrency key), reading each key's claimed
 * count once per transaction: those reads are what the commit depends on.
 */
function createFitCheck(tx: StoreTx, nodeId: string, nowMs: number) {
  const claimedByKey = new Map<string, Promise<number>>();
  const claimedWith = (key: string) => {
    let n = claimedByKey.get(key);
    if (!n) claimedByKey.set(key, (n = tx.countClaimedWithKey(key).then((c) => ((check.counts[key] = c), c))));
    return n;
  };
  const check = {
    /** A task was passed over because this node gave it back lately (it may go to another). */
    sawCooling: false,
    /** The claimed count of each key read so far (for PendingQuery.claimedCounts). */
    counts: {} as Record<string, number>,
    /** Tasks passed over because their key is full. */
    fullSkips: 0,
    async fits(t: Task): Promise<boolean> {
      // The key first: a task of a full key is no task for any waiter, cooling or not (as the
      // claim script passes over a full group before reading its tasks).
      if (t.concurrency_key && !hasConcurrencyRoom(t, await claimedWith(t.concurrency_key))) {
        check.fullSkips++;
        return false;
      }
      if (rules.coolingDown(t, nodeId, nowMs)) {
        check.sawCooling = true;
        return false;
      }
      return true;
    },
  };
  return check;
}

export function createTaskService(ctx: CoordinatorContext) {
  const { store } = ctx;

  const fast = createFastClaims(ctx, COOLDOWN_LOOKAHEAD);

  /** Claims the best fitting task for the node, or returns null when none fits now. */
  async function claimBest(input: ClaimNextInput, caller?: Caller): Promise<Task | null> {
    // No await without the script (memory, SQLite): the transaction is queued in the caller's
    // turn, so claims sent together with creates share their group commit in order.
    const outcome = fast ? await fast.claim(input, caller) : undefined;
    // The rules say why this node takes no task now; should they not, the transaction decides.
    if (outcome?.kind === "node") rules.assertNodeCanClaim(outcome.node);
    else if (outcome) return outcome.kind === "claimed" ? committed(outcome) : null;
    const claimed = await claimOptimistic(input, caller);
    return claimed === NOT_FOR_THIS_WAITER ? null : claimed;
  }

  /**
   * A long-polling waiter's try: null when no claimable task fits its labels and repos (later
   * waiters alike are skipped), NOT_FOR_THIS_WAITER when tasks fit but none may go to this node.
   */
  async function claimForWaiter(input: ClaimNextInput, labels: NodeRecord["labels"], caller?: Caller): Promise<Task | null | typeof NOT_FOR_THIS_WAITER> {
    // A read first: waiters that nothing fits cost no transaction (and hear nothing of their node).
    const repos = rules.repoFilter(input.repo, input.repos);
    // A full key holds back every waiter with these labels alike, so its tasks count as nothing.
    const nothingFits = async () => (await store.listPending({ labels, repos, limit: 1, withRoom: true })).length === 0;
    if (fast) {
      // The script reads as much as that read would: so try it first, and answer as the read would have.
      let outcome;
      try {
        outcome = await fast.claim(input, caller);
      } catch (err) {
        if (isCoordError(err) && (await nothingFits())) return null;
        throw err;
      }
      if (outcome && outcome.kind !== "node") {
        return outcome.kind === "claimed" ? committed(outcome) : outcome.kind === "none" ? null : NOT_FOR_THIS_WAITER;
      }
      if (await nothingFits()) return null;
      if (outcome) rules.assertNodeCanClaim(outcome.node);
    } else if (await nothingFits()) return null;
    return claimOptimistic(input, caller);
  }

  /**
   * claimBest as one optimistic transaction (every store). Nothing claimed: null when no task
   * fits anyone with these labels and repos (passing over full concurrency keys included, which
   * are full for every waiter), NOT_FOR_THIS_WAITER when one was passed over for this node's
   * cooldown, so a long poll tries the next waiter.
   */
  async function claimOptimistic(input: ClaimNextInput, caller?: Caller): Promise<Task | null | typeof NOT_FOR_THIS_WAITER> {
    let runs = 0;
    const claimed = await store.transact(async (tx) => {
      const node = await nodeForRegistration(tx, input.registration_id, caller);
      rules.assertNodeCanClaim(node);
      const nowMs = ctx.now().getTime();
      const query = { labels: node.labels, repos: rules.repoFilter(input.repo, input.repos) };
      const fit = createFitCheck(tx, node.id, nowMs);
      const fits = fit.fits;
      /** The committed record of a candidate listed outside the transaction, if it may still be taken. */
      const fresh = async (candidate: Task | undefined) => {
        const t = candidate && (await tx.getTask(candidate.id));
        return t && rules.isClaimable(t.status) && labelsSatisfied(t.labels, node.labels) && (await fits(t)) ? t : undefined;
      };
      let pick: Task | undefined;
      if (runs++ > 0) {
        // A re-run means another claimer (on a shared store) won the race for the best task;
        // racing again for the same head would lose again, so take one of the next few. They
        // are looked up outside the transaction, so only the one picked becomes a condition
        // of the commit.
        const spread = Math.min(MAX_SPREAD, CONTENDED_SPREAD << (runs - 2));
        const candidates = await store.listPending({ ...query, limit: spread });
        pick = await fresh(candidates[Math.floor(Math.random() * candidates.length)]);
      }
      pick ??= (await tx.listPending({ ...query, limit: 1 }))[0];
      // The best task is one this node gave back lately, or its concurrency key is full: look
      // further among the tasks of keys with room (rare, so the common claim still reads one
      // task). The window is read outside the transaction, so only the task picked (and the
      // keys looked at) become conditions of the commit; its room is judged by the key counts
      // this transaction read where it read them (on SQLite they include the claims batched
      // with it), so a key found full here is left out there too.
      if (pick && !(await fits(pick))) {
        pick = undefined;
        for (let tries = 0; !pick && tries < 3; tries++) {
          const skips = fit.fullSkips;
          const window = await store.listPending({ ...query, limit: COOLDOWN_LOOKAHEAD, withRoom: true, claimedCounts: { ...fit.counts } });
          // The listed record says whether it may fit (the key counts are read once each); only
          // one that does is read again in the transaction.
          for (const candidate of window) if ((await fits(candidate)) && (pick = await fresh(candidate))) break;
          // Again only if the window was full and some of it was of keys full by this
          // transaction's counts (now known, so left out).
          if (window.length < COOLDOWN_LOOKAHEAD || fit.fullSkips === skips) break;
        }
      }
      if (!pick) return fit.sawCooling ? NOT_FOR_THIS_WAITER : null;
      return claimIn(tx, pick, node, input.worker_name);
    });
    return claimed && claimed !== NOT_FOR_THIS_WAITER ? committed(claimed) : claimed;
  }

  /** The create's transaction: a repeated idempotency key answers the first task (same repo and description), else a new task. */
  async function createIn(
    tx: StoreTx,
    item: PreparedCreate,
    ts: string,
    byKey: (key: string) => Promise<Task | undefined> = (key) => tx.getTaskByIdempotencyKey(key),
  ): Promise<{ task: Task; created: boolean }> {
    const { input, key } = item;
    if (key) {
      const existing = await byKey(key);
      if (existing) {
        if (existing.repo !== input.repo || existing.description !== input.description) {
          throw new CoordError("IDEMPOTENCY_CONFLICT", "idempotency_key was already used for a different task", {
            idempotency_key: key,
            task_id: existing.id,
          });
        }
        return { task: existing, created: false };
      }
    }
    const deps = dependencyState(await readDependencies(tx, item.dependsOn));
    // A task that can never run joins no dependents list, so only a live one needs room.
    if (!deps.dead) await checkDependentsRoom(tx, deps.blocked_by, ctx.maxDependents);
    const t = rules.createTask(
      item.id,
      {
        repo: input.repo,
        description: input.description,
        priority: input.priority ?? ctx.defaultPriority,
        labels: input.labels ?? {},
        max_attempts: input.max_attempts ?? ctx.defaultMaxAttempts,
        idempotency_key: key,
        not_before: item.notBefore,
        ...item.concurrency,
        depends_on: item.dependsOn,
        blocked_by: deps.blocked_by,
      },
      ts,
    );
    tx.emit(t.event);
    if (deps.dead) {
      // It can never run: created (so the caller has its id and the record says why) and
      // cancelled at once; POST /tasks warns (see placementWarnings).
      // Cancelled, it waits for nothing: an empty blocked_by (its live dependencies do not block it).
      const c = rules.cancelTask({ ...t.task, blocked_by: [] }, dependencyReason(deps.dead), ts);
      tx.putTask(c.task);
      tx.emit({ ...c.event, data: { ...c.event.data, dependency: deps.dead.id, dependency_status: deps.dead.status } });
      return { task: c.task, created: true };
    }
    tx.putTask(t.task);
    return { task: t.task, created: true };
  }

  async function claimIn(tx: StoreTx, task: Task, node: NodeRecord, worker: string): Promise<rules.Transition> {
    const claimedWithKey = task.concurrency_key ? await tx.countClaimedWithKey(task.concurrency_key) : 0;
    const t = rules.claimTask(task, node, worker, ctx.now(), ctx.claimTimeoutMs, claimedWithKey);
    tx.putTask(t.task);
    // A cancellation of an earlier claim of this task (since retried) must not stop the new one.
    const cancelled = node.cancelled_tasks.filter((c) => c.task_id !== task.id);
    tx.putNode({ ...node, claimed_tasks: [...node.claimed_tasks, task.id], cancelled_tasks: cancelled });
    tx.emit(t.event);
    return t;
  }

  /** After the commit: this replica's observers (metrics) hear of the claim once. */
  function committed(t: rules.Transition): Task {
    ctx.observe(t.event);
    return t.task;
  }

  return {
    claimBest,
    claimForWaiter,

    /** Creates a task; with an idempotency key, a repeat returns the first task (`created: false`). */
    async create(input: CreateTaskInput): Promise<{ task: Task; created: boolean }> {
      const now = ctx.now();
      const item = prepareCreate(input, now);
      return store.transact((tx) => createIn(tx, item, now.toISOString()));
    },

    /**
     * Creates up to rules.MAX_BATCH_TASKS tasks in one transaction, in order: all or none. Each item
     * follows the rules of `create` (a repeated idempotency key returns the first task, also
     * within the batch); the first item refused fails the batch, its index in `details.index`.
     */
    async createBatch(inputs: CreateTaskInput[]): Promise<{ tasks: Task[]; created: boolean[] }> {
      if (inputs.length > rules.MAX_BATCH_TASKS) {
        throw new CoordError("INVALID_REQUEST", `tasks: at most ${rules.MAX_BATCH_TASKS} tasks per batch`, {
          fields: [{ field: "body.tasks", message: `at most ${rules.MAX_BATCH_TASKS} items` }],
        });
      }
      const now = ctx.now();
      const ts = now.toISOString();
      const items = inputs.map((input, i) => atIndex(i, () => prepareCreate(input, now)));
      return store.transact(async (tx) => {
        // The keys are looked up together (on a shared store, one round trip's worth rather than
        // one per item); an item then finds a key used earlier in the batch in `byKey` too.
        const keys = [...new Set(items.flatMap((item) => (item.key ? [item.key] : [])))];
        const found = await Promise.all(keys.map((key) => tx.getTaskByIdempotencyKey(key)));
        const byKey = new Map<string, Task>();
        keys.forEach((key, i) => found[i] && byKey.set(key, found[i]));
        const tasks: Task[] = [];
        const created: boolean[] = [];
        for (const [i, item] of items.entries()) {
          const r = await atIndex(i, () => createIn(tx, item, ts, async (key) => byKey.get(key)));
          if (item.key) byKey.set(item.key, r.task);
          tasks.push(r.task);
          created.push(r.created);
        }
        return { tasks, created };
      });
    },

    /** What `POST /tasks` warns about a new task (see `rules.placementWarnings`); read after the create, outside it. */
    async placementWarnings(task: Task): Promise<string[]> {
      if (task.status === "cancelled") return [`the task was cancelled at once: ${task.cancel_reason}`];
      if (Object.keys(task.labels).length === 0) return [];
      // Page by page until one node could take it: usually the first page settles it, where
      // reading every online node (10,000 JSON records on SQLite) made each create slow.
      for (let after: string | undefined; ; ) {
        const page = await store.listNodes({ status: "online", labels: task.labels, limit: PLACEMENT_PAGE, after });
        if (page.some((n) => rules.nodeCouldTake(n, task.labels))) return [];
        if (page.length < PLACEMENT_PAGE) return rules.placementWarnings(task.labels, []);
        after = page[page.length - 1]!.id;
      }
    },

    get(id: string): Promise<Task> {
      return requireTask(store, id);
    },

    list(input: TaskListInput) {
      return store.listTasks({ ...input, limit: input.limit ?? 100 });
    },

    pending(query: PendingInput): Promise<Task[]> {
      return store.listPending({ labels: query.labels, repos: rules.repoFilter(query.repo, query.repos), limit: query.limit ?? 100 });
    },

    /** Claims one task by id: of any number of concurrent claims, exactly one wins. */
    async claim(taskId: string, input: ClaimInput, caller?: Caller): Promise<Task> {
      const claimed = await store.transact(async (tx) => {
        const node = await nodeForRegistration(tx, input.registration_id, caller);
        const task = await requireTask(tx, taskId);
        return claimIn(tx, task, node, input.worker_name);
      });
      return committed(claimed);
    },


    /**
     * Runs a failed or cancelled task again (admin, DESIGN §11): pending, attempts reset; back to
     * waiting while a dependency is unfinished, refused (409) while one failed or was cancelled.
     */
    retry(taskId: string): Promise<Task> {
      const ts = ctx.now().toISOString();
      return store.transact(async (tx) => {
        const task = await requireTask(tx, taskId);
        const dependsOn = task.depends_on ?? [];
        const deps = dependencyState(await Promise.all(dependsOn.map((id) => tx.getTask(id))));
        if (deps.dead && (task.status === "failed" || task.status === "cancelled")) throw deadDependencyError(task, deps.dead);
        const t = retryTask(task, ts, deps.blocked_by);
        // Waiting again joins its dependencies' dependents lists: the same room as a create.
        await checkDependentsRoom(tx, waitingOn(t.task), ctx.maxDependents);
        tx.putTask(t.task);
        tx.emit(t.event);
        return t.task;
      });
    },

    ...createTaskEnds(ctx),

    /** Makes one waiting task pending once its not_before has come; false if it is not (any more). */
    ready(taskId: string): Promise<boolean> {
      const nowMs = ctx.now().getTime();
      return store.transact(async (tx) => {
        const task = await tx.getTask(taskId);
        const t = task && readyTask(task, nowMs);
        if (!t) return false;
        tx.putTask(t.task);
        tx.emit(t.event);
        return true;
      });
    },

  };
}

export type TaskService = ReturnType<typeof createTaskService>;
