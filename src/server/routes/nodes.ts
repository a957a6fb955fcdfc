import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { parseLabelQuery } from "../../core/labels.js";
import type { Coordinator } from "../../coordinator/index.js";
import { registerRateLimit, type RateLimitOptions } from "../rate-limit.js";
import { defineRoute } from "../route.js";
import * as S from "../schemas.js";

export function nodeRoutes(app: FastifyInstance, coordinator: Coordinator, limits: RateLimitOptions): void {
  const tags = ["nodes"];
  defineRoute(app, {
    method: "POST",
    url: "/register",
    operationId: "registerNode",
    errors: ["NODE_OWNED"],
    access: "node",
    summary: "Register (or re-register) a node; the previous registration id stops working",
    tags,
    body: S.RegisterBody,
    rateLimit: registerRateLimit(limits),
    response: Type.Object({ registration_id: Type.String(), heartbeat_interval_seconds: Type.Integer() }),
    handler: async ({ body, actor, request }) => {
      const { takeover_from, ...answer } = await coordinator.nodes.register(body, actor);
      // An admin took the node from its owner: the audit line says from whom.
      if (takeover_from !== undefined) request.auditNote = { takeover_from };
      return answer;
    },
  });

  defineRoute(app, {
    method: "POST",
    url: "/heartbeat",
    operationId: "sendHeartbeat",
    errors: ["REGISTRATION_NOT_FOUND"],
    access: "node",
    summary: "Report liveness, agents, metrics and repos; renews the node's leases",
    tags,
    body: S.HeartbeatBody,
    response: Type.Object({
      status: Type.String(),
      health: Type.String(),
      pending_messages: Type.Integer(),
      cancelled_task_ids: Type.Array(Type.String()),
      cordoned: Type.Boolean({ description: "an admin cordoned the node: it keeps its claims and gets no new ones until uncordoned" }),
    }),
    handler: ({ body, actor }) => coordinator.nodes.heartbeat(body, actor),
  });

  defineRoute(app, {
    method: "POST",
    url: "/deregister",
    operationId: "deregisterNode",
    errors: ["REGISTRATION_NOT_FOUND"],
    access: "node",
    summary: "Leave: the node's claims go back to pending",
    tags,
    body: S.RegistrationBody,
    response: Type.Object({ node_id: Type.String(), released_tasks: Type.Array(Type.String()) }),
    handler: ({ body, actor }) => coordinator.nodes.deregister(body.registration_id, actor),
  });

  defineRoute(app, {
    method: "GET",
    url: "/nodes",
    operationId: "listNodes",
    access: "read",
    summary: "List nodes by id, optionally by status and labels (label=k:v,k:v), paged by cursor",
    tags,
    querystring: S.NodesQuery,
    response: Type.Object({ nodes: Type.Array(S.Node), next_cursor: S.NextCursor }),
    handler: ({ query }) =>
      coordinator.nodes.listNodes({
        status: query.status,
        labels: query.label ? parseLabelQuery(query.label, "label") : undefined,
        limit: query.limit,
        cursor: query.cursor,
      }),
  });

  defineRoute(app, {
    method: "DELETE",
    url: "/nodes/:id",
    access: "admin",
    operationId: "forgetNode",
    errors: ["NODE_NOT_FOUND"],
    summary: "Forget a node now: its claims go back to pending, its undelivered messages are dropped (node.forgotten)",
    tags,
    params: S.IdParams,
    response: Type.Object({ node_id: Type.String(), released_tasks: Type.Array(Type.String()) }),
    handler: ({ params }) => coordinator.nodes.forgetNow(params.id),
  });

  for (const [verb, on] of [["cordon", true], ["uncordon", false]] as const) {
    defineRoute(app, {
      method: "POST",
      url: `/nodes/:id/${verb}`,
      access: "admin",
      operationId: `${verb}Node`,
      errors: ["NODE_NOT_FOUND"],
      summary: on
        ? "Cordon a node: it keeps its claims and gets no new ones (409 NODE_CORDONED) until uncordoned (node.cordoned)"
        : "Uncordon a node: it takes new tasks again (node.uncordoned)",
      tags,
      params: S.IdParams,
      response: S.Node,
      handler: ({ params }) => coordinator.nodes.cordon(params.id, on),
    });
  }

  defineRoute(app, {
    method: "GET",
    url: "/nodes/:id",
    operationId: "getNode",
    errors: ["NODE_NOT_FOUND"],
    access: "read",
    summary: "One node",
    tags,
    params: S.IdParams,
    response: S.Node,
    handler: ({ params }) => coordinator.nodes.getNode(params.id),
  });

  defineRoute(app, {
    method: "GET",
    url: "/state/:repo",
    operationId: "getRepoState",
    access: "read",
    summary: "Agents (keyed name@node), pending task count and active PRs (summed over nodes) of a repo, from heartbeats",
    tags: ["state"],
    params: S.RepoParams,
    response: Type.Object({
      repo: Type.String(),
      known: Type.Boolean({ description: "false when no node reports the repo and no task names it" }),
      agents: Type.Record(
        Type.String(),
        Type.Object({ name: Type.String(), node: Type.String(), type: Type.String(), status: Type.String(), task: Type.Union([Type.String(), Type.Null()]) }),
      ),
      pending_tasks: Type.Integer(),
      active_prs: Type.Integer(),
      agents_truncated: Type.Optional(Type.Literal(true, { description: "more agents than one answer holds (10,000)" })),
    }),
    handler: ({ params }) => coordinator.nodes.state(params.repo),
  });
}
