import { CoordError } from "../core/errors.js";
import { newSecretId } from "../core/ids.js";
import { agentsInRepo, diffAgents, onlyRepo } from "../core/nodes.js";
import { releaseTask } from "../core/tasks.js";
import type { Node, NodeRecord, RepoState } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import type { CoordinatorContext, HeartbeatInput, RegisterInput } from "./types.js";

/** The API shape of a node: the registration id and undelivered cancellations stay inside. */
export function publicNode(node: NodeRecord): Node {
  const { registration_id: _r, cancelled_tasks: _c, ...rest } = node;
  return rest;
}

/** Looks up the node a registration id belongs to, or answers REGISTRATION_NOT_FOUND. */
export async function nodeForRegistration(tx: Pick<StoreTx, "getNodeByRegistration">, registrationId: string): Promise<NodeRecord> {
  const node = await tx.getNodeByRegistration(registrationId);
  if (!node) {
    throw new CoordError("REGISTRATION_NOT_FOUND", "registration not found; register again", { registration_id: registrationId });
  }
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

export function createNodeService(ctx: CoordinatorContext) {
  const { store } = ctx;
  return {
    /** Upsert by node_id; the new registration id replaces the previous one, claims stay with the node. */
    register(input: RegisterInput) {
      const now = ctx.now();
      const ts = now.toISOString();
      const registrationId = newSecretId("reg");
      return store.transact(async (tx) => {
        const prev = await tx.getNode(input.node_id);
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
        };
        await renewLeases(ctx, tx, node, now);
        tx.putNode(node);
        tx.emit({
          type: "node.registered",
          data: { node_id: node.id, hostname: node.hostname, labels: node.labels, capacity: node.capacity, ts },
        });
        return { registration_id: registrationId, heartbeat_interval_seconds: Math.round(ctx.heartbeatIntervalMs / 1000) };
      });
    },

    async heartbeat(input: HeartbeatInput) {
      const now = ctx.now();
      const ts = now.toISOString();
      const result = await store.transact(async (tx) => {
        const node = await nodeForRegistration(tx, input.registration_id);
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
    deregister(registrationId: string) {
      const ts = ctx.now().toISOString();
      return store.transact(async (tx) => {
        const node = await nodeForRegistration(tx, registrationId);
        const released: string[] = [];
        for (const id of node.claimed_tasks) {
          const task = await tx.getTask(id);
          if (!task || task.status !== "claimed" || task.claimed_node !== node.id) continue;
          const t = releaseTask(task, node.id, "node deregistered", ts);
          tx.putTask(t.task);
          tx.emit(t.event);
          released.push(id);
        }
        const next: NodeRecord = { ...node, status: "deregistered", registration_id: null, claimed_tasks: [], last_seen: ts };
        tx.putNode(next);
        tx.emit({ type: "node.deregistered", data: { node_id: node.id, released_tasks: released, ts } });
        return { node_id: node.id, released_tasks: released };
      });
    },

    async getNode(id: string): Promise<Node> {
      const node = await store.getNode(id);
      if (!node) throw new CoordError("NODE_NOT_FOUND", `node ${id} not found`, { node_id: id });
      return publicNode(node);
    },

    async listNodes(query: Parameters<typeof store.listNodes>[0]): Promise<Node[]> {
      return (await store.listNodes(query)).map(publicNode);
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
