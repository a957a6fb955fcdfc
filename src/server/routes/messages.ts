import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Coordinator } from "../../coordinator/index.js";
import { defineRoute } from "../route.js";
import * as S from "../schemas.js";

export function messageRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  const tags = ["messages"];
  defineRoute(app, {
    method: "POST",
    url: "/messages",
    access: "node",
    operationId: "sendMessage",
    errors: ["AGENT_NOT_FOUND", "NODE_NOT_FOUND", "REGISTRATION_NOT_FOUND"],
    summary: "Send a message to agent@node, or to a bare agent name within repo; a node token sends through its registration_id as name@<its node>",
    tags,
    body: S.SendMessageBody,
    status: 201,
    response: S.Message,
    handler: ({ body, actor }) => coordinator.messages.send(body, actor),
  });

  defineRoute(app, {
    method: "GET",
    url: "/messages",
    access: "read",
    operationId: "listMessages",
    summary: "List messages, oldest first, by receiving node, recipient or status, paged by cursor",
    tags,
    querystring: S.MessagesQuery,
    response: Type.Object({ messages: Type.Array(S.Message), next_cursor: S.NextCursor }),
    handler: ({ query }) => coordinator.messages.list(query),
  });

  defineRoute(app, {
    method: "POST",
    url: "/messages/:id/ack",
    operationId: "ackMessage",
    errors: ["NOT_FOUND", "REGISTRATION_NOT_FOUND", "FORBIDDEN", "NOT_RECIPIENT"],
    access: "node",
    summary: "Acknowledge a message (idempotent); a node token gives the registration_id of the recipient node (403 NOT_RECIPIENT otherwise)",
    tags,
    params: S.IdParams,
    body: S.AckBody,
    optionalBody: true,
    response: S.Message,
    handler: ({ params, body, actor }) => coordinator.messages.ack(params.id, body.registration_id, actor),
  });
}
