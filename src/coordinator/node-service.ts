import { CoordError } from "../core/errors.js";
import { checkRegister, checkRegistrationOwner, type Caller } from "../core/identity.js";
import { newSecretId } from "../core/ids.js";
import { agentsInRepo, diffAgents, onlyRepo } from "../core/nodes.js";
import { DEFAULT_PAGE, MAX_PAGE, toPage } from "../core/paging.js";
import { nodeForgettable } from "../core/retention.js";
import { releaseTask } from "../core/tasks.js";
import type { Labels, Node, NodeRecord, NodeStatus, RepoState } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import type { CoordinatorContext, HeartbeatInput, RegisterInput } from "./types.js";

/** The API shape of a node: the registration id and undelivered cancellations stay inside. */
export function publicNode(node: NodeRecord): Node {
  const { registration_id: _r, cancelled_tasks: _c, owner: _o, ...rest } = node;
  return rest;
}

/**
 * Looks up the node a registration id belongs to, or answers REGISTRATION_NOT_FOUND; a caller
 * other than the token that registered it gets FORBIDDEN.
 */
export async function nodeForRegistration(
  tx: Pick<StoreTx, "getNodeByRegistration">,
  registrationId: string,
  caller: Caller | undefined,
): Promise<NodeRecord> {
  const node = await tx.getNodeByRegistration(registrationId);
  if (!node) {
    throw new CoordError("REGISTRATION_NOT_FOUND", "registration not found; register again", { registration_id: registrationId });
  }
  checkRegistrationOwner(caller, node);
  return node;
}

/** A sign of life from a node renews the leases of every task it holds. */
async function renewLeases(ctx: CoordinatorContext, tx: StoreTx, node: NodeRecord, now: Date): Promise<void> {
  const lease = new Date(now.getTime() + ctx.claimTimeoutMs).toISOString();
  for (const id of node.claimed_tasks) {
    const task = await tx.getTask(id);
    if (task && task.status === "claimed" && task.claimed_node === node.id) tx.putTask({ ...task, lease_expires_at: lease });
  }
}

/** Gives the node's claimed tasks back to pending (deregistering, forgetting); returns their ids. */
async function releaseClaims(tx: StoreTx, node: NodeRecord, reason: string, ts: string): Promise<string[]> {
  const released: string[] = [];
  for (const id of node.claimed_tasks) {
    const task = await tx.getTask(id);
    if (!task || task.status !== "claimed" || task.claimed_node !== node.id) continue;
    const t = releaseTask(task, node.id, reason, ts);
    tx.putTask(t.task);
    tx.emit(t.event);
    released.push(id);
  }
  return released;
}

/** How many undelivered messages of a node being forgotten go per transaction. */
const FORGET_MESSAGE_BATCH = 100;

export function createNodeService(ctx: CoordinatorContext) {
  const { store } = ctx;
  return {
    /**
     * Upsert by node_id; the new registration id replaces the previous one, claims stay with the
     * node. The node belongs to the caller's token name (see `checkRegister`); `takeover_from`
     * names the owner an admin took it from.
     */
    register(input: RegisterInput, caller?: Caller) {
      const now = ctx.now();
      const ts = now.toISOString();
      const registrationId = newSecretId("reg");
      return store.transact(async (tx) => {
        const prev = await tx.getNode(input.node_id);
        const { owner, takeover_from } = checkRegister(caller, input.node_id, prev);
        const node: NodeRecord = {
          id: input.node_id,
          hostname: input.hostname ?? prev?.hostname ?? input.node_id,
          capacity: {
            max_workers: input.capacity?.max_workers ?? prev?.capacity.max_workers ?? 1,
            current_workers: input.capacity?.current_workers ?? 0,
          },
          labels: input.labels ?? {},
          status: "online",
          health: "healthy",
          registered_at: ts,
          last_seen: ts,
          agents: prev?.agents ?? [],
          metrics: prev?.metrics ?? {},
          repos: prev?.repos ?? [],
          claimed_tasks: prev?.claimed_tasks ?? [],
          registration_id: registrationId,
          cancelled_tasks: prev?.cancelled_tasks ?? [],
          ...(owner !== undefined ? { owner } : {}),
        };
        await renewLeases(ctx, tx, node, now);
        tx.putNode(node);
        tx.emit({
          type: "node.registered",
          data: { node_id: node.id, hostname: node.hostname, labels: node.labels, capacity: node.capacity, ...(takeover_from ? { takeover_from } : {}), ts },
        });
        return {
          registration_id: registrationId,
          heartbeat_interval_seconds: Math.round(ctx.heartbeatIntervalMs / 1000),
          ...(takeover_from ? { takeover_from } : {}),
        };
      });
    },

    async heartbeat(input: HeartbeatInput, caller?: Caller) {
      const now = ctx.now();
      const ts = now.toISOString();
      const result = await store.transact(async (tx) => {
        const node = await nodeForRegistration(tx, input.registration_id, caller);
        const agents = input.agents ?? node.agents;
        const next: NodeRecord = {
          ...node,
          status: "online",
          health: input.status ?? node.health,
          last_seen: ts,
          agents,
          metrics: input.metrics ?? node.metrics,
          repos: input.repos ?? node.repos,
          capacity: {
            ...node.capacity,
            current_workers: input.capacity?.current_workers ?? (input.agents ? agents.length : node.capacity.current_workers),
          },
          // Announced on every heartbeat until the claim timeout has passed since the cancellation.
          cancelled_tasks: node.cancelled_tasks.filter((c) => Date.parse(c.cancelled_at) + ctx.claimTimeoutMs > now.getTime()),
        };
        if (node.status !== "online") tx.emit({ type: "node.online", data: { node_id: node.id, ts } });
        if (input.agents) {
          const fallbackRepo = { before: onlyRepo(node.repos), after: onlyRepo(next.repos) };
          for (const e of diffAgents(node.id, node.agents, agents, ts, fallbackRepo)) tx.emit(e);
        }
        for (const report of input.repos ?? []) {
          // The latest report wins, whoever sent it: every report is written (comparing with a
          // value read earlier could keep another node's older number).
          tx.putRepo({ name: report.name, active_prs: report.active_prs, reported_by: node.id, updated_at: ts });
        }
        await renewLeases(ctx, tx, next, now);
        tx.putNode(next);
        return { node: next, cancelled: next.cancelled_tasks.map((c) => c.task_id) };
      });
      return {
        status: result.node.status,
        health: result.node.health,
        pending_messages: await store.countPendingMessages(result.node.id),
        cancelled_task_ids: result.cancelled,
      };
    },

    /** The node leaves: its claims go back to pending at once instead of waiting for lease expiry. */
    deregister(registrationId: string, caller?: Caller) {
      const ts = ctx.now().toISOString();
      return store.transact(async (tx) => {
        const node = await nodeForRegistration(tx, registrationId, caller);
        const released = await releaseClaims(tx, node, "node deregistered", ts);
        const next: NodeRecord = { ...node, status: "deregistered", registration_id: null, claimed_tasks: [], last_seen: ts };
        tx.putNode(next);
        tx.emit({ type: "node.deregistered", data: { node_id: node.id, released_tasks: released, ts } });
        return { node_id: node.id, released_tasks: released };
      });
    },

    /**
     * Forgets a node: its undelivered messages go (in small batches), then, in one atomic write,
     * its claims are released, the node is removed and `node.forgotten` is emitted. With
     * `cutoffMs` (the sweeper) it happens only while the node is still forgettable, re-checked
     * in every transaction; without (DELETE /nodes/{id}) at once. Returns whether this call
     * forgot it: of sweeps running at once on several replicas, exactly one does.
     */
    async forget(nodeId: string, opts: { cutoffMs?: number } = {}): Promise<{ node_id: string; released_tasks: string[] } | null> {
      const reason = opts.cutoffMs === undefined ? "forgotten by an admin" : "node forgotten after registration.forget_after";
      /** The node as this transaction sees it, if it is still to be forgotten. */
      const target = async (tx: Pick<StoreTx, "getNode">): Promise<NodeRecord | undefined> => {
        const node = await tx.getNode(nodeId);
        if (!node && opts.cutoffMs === undefined) throw new CoordError("NODE_NOT_FOUND", `node ${nodeId} not found`, { node_id: nodeId });
        if (!node || (opts.cutoffMs !== undefined && !nodeForgettable(node, opts.cutoffMs))) return undefined;
        return node;
      };
      const dropMessages = async (tx: StoreTx, ids: string[]) => {
        for (const m of await Promise.all(ids.map((id) => tx.getMessage(id)))) {
          if (m && m.status === "pending" && m.to_node === nodeId) tx.deleteMessage(m.id);
        }
      };
      if (!(await target(store))) return null;
      for (;;) {
        const ids = (await store.listMessages({ to_node: nodeId, status: "pending", limit: FORGET_MESSAGE_BATCH })).map((m) => m.id);
        if (ids.length < FORGET_MESSAGE_BATCH) {
          // The last few go in the same write as the node.
          return store.transact(async (tx) => {
            const node = await target(tx);
            if (!node) return null;
            const ts = ctx.now().toISOString();
            await dropMessages(tx, ids);
            const released = await releaseClaims(tx, node, reason, ts);
            tx.deleteNode(node.id);
            tx.emit({ type: "node.forgotten", data: { node_id: node.id, released_tasks: released, last_seen: node.last_seen, reason, ts } });
            return { node_id: node.id, released_tasks: released };
          });
        }
        const still = await store.transact(async (tx) => {
          if (!(await target(tx))) return false;
          await dropMessages(tx, ids);
          return true;
        });
        if (!still) return null;
      }
    },

    /** DELETE /nodes/{id}: forgets the node at once; NODE_NOT_FOUND when there is none. */
    async forgetNow(nodeId: string): Promise<{ node_id: string; released_tasks: string[] }> {
      const done = await this.forget(nodeId);
      if (!done) throw new CoordError("NODE_NOT_FOUND", `node ${nodeId} not found`, { node_id: nodeId });
      return done;
    },

    async getNode(id: string): Promise<Node> {
      const node = await store.getNode(id);
      if (!node) throw new CoordError("NODE_NOT_FOUND", `node ${id} not found`, { node_id: id });
      return publicNode(node);
    },

    /** One page of nodes by id; `cursor` is the `next_cursor` of the page before. */
    async listNodes(query: { status?: NodeStatus; labels?: Labels; limit?: number; cursor?: string }) {
      const limit = Math.min(query.limit ?? DEFAULT_PAGE, MAX_PAGE);
      const records = await store.listNodes({ status: query.status, labels: query.labels, limit: limit + 1, after: query.cursor });
      const page = toPage(records, limit);
      return { nodes: page.items.map(publicNode), next_cursor: page.next_cursor };
    },

    /**
     * Repo state from heartbeats. An agent reported without a repo is counted for the node's repo
     * when the node reports exactly one. `active_prs` is the sum over the nodes (not deregistered)
     * of each one's latest report for the repo: two nodes with one PR each make 2. `known` is
     * false for a repo that no node reports and no task names.
     */
    async state(repo: string): Promise<RepoState> {
      const [nodes, pending, record] = await Promise.all([store.listNodes({}), store.countPending(repo), store.getRepo(repo)]);
      const agents: RepoState["agents"] = {};
      let activePrs = 0;
      let reported = false;
      for (const node of nodes) {
        if (node.status === "deregistered") continue;
        for (const a of agentsInRepo(node, repo)) {
          agents[`${a.name}@${node.id}`] = { name: a.name, node: node.id, type: a.type, status: a.status, task: a.task ?? null };
        }
        for (const r of node.repos) {
          if (r.name !== repo) continue;
          activePrs += r.active_prs;
          reported = true;
        }
      }
      const known =
        reported || record !== undefined || pending > 0 || Object.keys(agents).length > 0 || (await store.listTasks({ repo, limit: 1 })).tasks.length > 0;
      return { repo, known, agents, pending_tasks: pending, active_prs: activePrs };
    },
  };
}

export type NodeService = ReturnType<typeof createNodeService>;
