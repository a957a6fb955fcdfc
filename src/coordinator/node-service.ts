import { CoordError } from "../core/errors.js";
import { checkRegister, checkRegistrationOwner, type Caller } from "../core/identity.js";
import { newSecretId } from "../core/ids.js";
import { agentsInRepo, diffAgents, isRepeatHeartbeat, onlyRepo, repeatHeartbeatWindowMs } from "../core/nodes.js";
import { DEFAULT_PAGE, MAX_PAGE, toPage } from "../core/paging.js";
import { capReport } from "../core/report.js";
import { setCordon } from "../core/workflow.js";
import type { Labels, Node, NodeRecord, NodeStatus, RepoState } from "../core/types.js";
import type { StoreTx } from "../store/types.js";
import { createNodeForgetting, releaseClaims } from "./node-forget.js";
import type { CoordinatorContext, HeartbeatInput, RegisterInput } from "./types.js";

/** The API shape of a node: the registration id and undelivered cancellations stay inside. */
export function publicNode(node: NodeRecord): Node {
  const { registration_id: _r, cancelled_tasks: _c, owner: _o, ...rest } = node;
  return { ...rest, cordoned: node.cordoned === true };
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

/** GET /state/{repo} reads nodes this many at a time, and answers at most this many agents. */
const STATE_NODE_PAGE = 200;
export const MAX_STATE_AGENTS = 10_000;

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
          // An admin's cordon outlives the node's restarts; only uncordon lifts it.
          ...(prev?.cordoned ? { cordoned: true } : {}),
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
      const result = await store.transact(async (tx) => {
        const node = await nodeForRegistration(tx, input.registration_id, caller);
        // The stored report is bounded (64 KiB, task texts cut to 1 KiB): see capReport.
        const changed = input.agents !== undefined || input.metrics !== undefined || input.repos !== undefined;
        const report = changed
          ? capReport({ agents: input.agents ?? node.agents, metrics: input.metrics ?? node.metrics, repos: input.repos ?? node.repos })
          : { agents: node.agents, metrics: node.metrics, repos: node.repos, truncated: node.report_truncated === true };
        const { agents, truncated } = report;
        const next: NodeRecord = {
          ...node,
          status: "online",
          health: input.status ?? node.health,
          // Set below once the heartbeat is to be written (a repeat does not compare it).
          last_seen: node.last_seen,
          agents,
          metrics: report.metrics,
          repos: report.repos,
          capacity: {
            ...node.capacity,
            current_workers: input.capacity?.current_workers ?? (input.agents ? input.agents.length : node.capacity.current_workers),
          },
          // Announced on every heartbeat until the claim timeout has passed since the cancellation.
          cancelled_tasks: node.cancelled_tasks.filter((c) => Date.parse(c.cancelled_at) + ctx.claimTimeoutMs > now.getTime()),
        };
        if (truncated) next.report_truncated = true;
        else delete next.report_truncated;
        // The same report again soon after the last write: nothing to store (see repeatHeartbeatWindowMs).
        if (isRepeatHeartbeat(node, next, now.getTime(), repeatHeartbeatWindowMs(ctx))) return { node, cancelled: node.cancelled_tasks.map((c) => c.task_id) };
        const ts = now.toISOString();
        next.last_seen = ts;
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
        cordoned: result.node.cordoned === true,
      };
    },

    /** Cordons or uncordons a node (admin, DESIGN §11); NODE_NOT_FOUND when there is none. */
    cordon(nodeId: string, on: boolean): Promise<Node> {
      const ts = ctx.now().toISOString();
      return store.transact(async (tx) => {
        const node = await tx.getNode(nodeId);
        if (!node) throw new CoordError("NODE_NOT_FOUND", `node ${nodeId} not found`, { node_id: nodeId });
        const change = setCordon(node, on, ts);
        if (change.event) {
          tx.putNode(change.node);
          tx.emit(change.event);
        }
        return publicNode(change.node);
      });
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

    ...createNodeForgetting(ctx),

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
      const [pending, record] = await Promise.all([store.countPending(repo), store.getRepo(repo)]);
      const agents: RepoState["agents"] = {};
      let count = 0;
      let truncated = false;
      let activePrs = 0;
      let reported = false;
      // Nodes are read a page at a time, so a large fleet is never all in memory at once. Every
      // page is read even once the agents are truncated: active_prs sums over all nodes.
      for (let after: string | undefined; ; ) {
        const nodes = await store.listNodes({ limit: STATE_NODE_PAGE, after });
        for (const node of nodes) {
          if (node.status === "deregistered") continue;
          for (const r of node.repos) {
            if (r.name !== repo) continue;
            activePrs += r.active_prs;
            reported = true;
          }
          for (const a of agentsInRepo(node, repo)) {
            if (count >= MAX_STATE_AGENTS) {
              truncated = true;
              break;
            }
            agents[`${a.name}@${node.id}`] = { name: a.name, node: node.id, type: a.type, status: a.status, task: a.task ?? null };
            count++;
          }
        }
        if (nodes.length < STATE_NODE_PAGE) break;
        after = nodes[nodes.length - 1]!.id;
      }
      const known = reported || record !== undefined || pending > 0 || count > 0 || (await store.listTasks({ repo, limit: 1 })).tasks.length > 0;
      return {
        repo,
        known,
        agents,
        pending_tasks: pending,
        active_prs: activePrs,
        ...(truncated ? { agents_truncated: true as const } : {}),
      };
    },
  };
}

export type NodeService = ReturnType<typeof createNodeService>;
