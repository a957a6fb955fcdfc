import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { CoordError } from "../../core/errors.js";
import { parseLabelQuery } from "../../core/labels.js";
import type { Coordinator } from "../../coordinator/index.js";
import { defineRoute, withStatus } from "../route.js";
import * as S from "../schemas.js";

/** An AbortSignal that fires when the client goes away before its answer is sent. */
function clientGone(reply: { raw: import("node:http").ServerResponse }): AbortSignal {
  const ac = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** Largest `POST /tasks/batch` body: 1,000 tasks of about 8 KiB each (every other route: BODY_LIMIT, 1 MiB). */
export const BATCH_BODY_LIMIT = 8 * 1024 * 1024;

function splitRepos(text: string | undefined): string[] | undefined {
  const repos = text?.split(",");
  if (repos && repos.length > S.MAX_CLAIM_REPOS) {
    throw new CoordError("INVALID_REQUEST", `repos: at most ${S.MAX_CLAIM_REPOS} repos`, {
      fields: [{ field: "query.repos", message: `at most ${S.MAX_CLAIM_REPOS} repos` }],
    });
  }
  return repos;
}

export function taskRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  const tags = ["tasks"];
  const tasks = coordinator.tasks;

  defineRoute(app, {
    method: "POST",
    url: "/tasks",
    access: "node",
    operationId: "createTask",
    errors: ["IDEMPOTENCY_CONFLICT", "TASK_NOT_FOUND", "TOO_MANY_DEPENDENTS"],
    summary:
      "Create a task (201); the same idempotency_key returns the first task (200); `warnings` when no online node could take it or a dependency already failed (the task is then cancelled at once)",
    tags,
    body: S.CreateTaskBody,
    status: [201, 200],
    response: S.CreatedTask,
    handler: async ({ body }) => {
      const { task, created } = await tasks.create(body);
      const warnings = created ? await tasks.placementWarnings(task) : [];
      return withStatus(created ? 201 : 200, warnings.length ? { ...task, warnings } : task);
    },
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/batch",
    access: "node",
    operationId: "createTaskBatch",
    errors: ["IDEMPOTENCY_CONFLICT", "TASK_NOT_FOUND", "TOO_MANY_DEPENDENTS"],
    summary: "Create up to 1,000 tasks in one atomic write, in order (201; 200 when every item already existed); the first bad item fails all, named by details.index",
    tags,
    body: S.CreateTaskBatchBody,
    batch: "tasks",
    bodyLimit: BATCH_BODY_LIMIT,
    status: [201, 200],
    response: S.CreatedTaskBatch,
    handler: async ({ body }) => {
      const out = await tasks.createBatch(body.tasks);
      return withStatus(out.created.includes(true) ? 201 : 200, out);
    },
  });

  defineRoute(app, {
    method: "GET",
    url: "/tasks",
    access: "read",
    operationId: "listTasks",
    summary: "List tasks, newest first, paged by cursor",
    tags,
    querystring: S.TasksQuery,
    response: Type.Object({ tasks: Type.Array(S.Task), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
    handler: ({ query }) => tasks.list(query),
  });

  defineRoute(app, {
    method: "GET",
    url: "/tasks/pending",
    operationId: "listPendingTasks",
    access: "read",
    summary: "Claimable tasks a node with exactly these labels could take, best first; wait_seconds waits for one",
    tags,
    querystring: S.PendingQuery,
    response: Type.Object({ tasks: Type.Array(S.Task) }),
    handler: async ({ query, reply }) => ({
      tasks: await coordinator.pendingTasks(
        {
          labels: query.labels !== undefined ? parseLabelQuery(query.labels) : undefined,
          repo: query.repo,
          repos: splitRepos(query.repos),
          limit: query.limit,
        },
        (query.wait_seconds ?? 0) * 1000,
        clientGone(reply),
      ),
    }),
  });

  defineRoute(app, {
    method: "GET",
    url: "/tasks/:id",
    operationId: "getTask",
    errors: ["TASK_NOT_FOUND"],
    access: "read",
    summary: "One task",
    tags,
    params: S.IdParams,
    response: S.Task,
    handler: ({ params }) => tasks.get(params.id),
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/claim",
    operationId: "claimNextTask",
    errors: ["REGISTRATION_NOT_FOUND", "NODE_AT_CAPACITY", "NODE_OFFLINE", "NODE_CORDONED"],
    access: "node",
    summary: "Claim the best fitting task; with wait_seconds, answer as soon as one appears",
    tags,
    body: S.ClaimNextBody,
    response: Type.Object({ task: Type.Union([S.Task, Type.Null()]) }),
    handler: async ({ body, reply, actor }) => ({ task: await coordinator.claimNext(body, clientGone(reply), actor) }),
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/:id/claim",
    operationId: "claimTask",
    errors: ["TASK_NOT_FOUND", "REGISTRATION_NOT_FOUND", "TASK_CLAIMED", "TASK_NOT_CLAIMABLE", "NODE_AT_CAPACITY", "LABELS_NOT_SATISFIED", "NODE_OFFLINE", "NODE_CORDONED", "CONCURRENCY_LIMIT"],
    access: "node",
    summary: "Claim one task; first write wins, the others get 409 TASK_CLAIMED",
    tags,
    params: S.IdParams,
    body: S.ClaimBody,
    response: S.Task,
    handler: ({ params, body, actor }) => tasks.claim(params.id, body, actor),
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/:id/complete",
    operationId: "completeTask",
    errors: ["TASK_NOT_FOUND", "REGISTRATION_NOT_FOUND", "NOT_CLAIMANT", "TASK_NOT_CLAIMABLE"],
    access: "node",
    summary: "Complete a claimed task (claimant only)",
    tags,
    params: S.IdParams,
    body: S.CompleteBody,
    response: S.Task,
    handler: ({ params, body, actor }) => tasks.complete(params.id, body, actor),
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/:id/fail",
    operationId: "failTask",
    errors: ["TASK_NOT_FOUND", "REGISTRATION_NOT_FOUND", "NOT_CLAIMANT", "TASK_NOT_CLAIMABLE"],
    access: "node",
    summary: "Fail a claimed task (claimant only); retry (default) puts it back while attempts remain",
    tags,
    params: S.IdParams,
    body: S.FailBody,
    response: S.Task,
    handler: ({ params, body, actor }) => tasks.fail(params.id, body, actor),
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/:id/release",
    operationId: "releaseTask",
    errors: ["TASK_NOT_FOUND", "REGISTRATION_NOT_FOUND", "NOT_CLAIMANT", "TASK_NOT_CLAIMABLE"],
    access: "node",
    summary: "Give a claimed task back to pending (claimant only)",
    tags,
    params: S.IdParams,
    body: S.ReleaseBody,
    response: S.Task,
    handler: ({ params, body, actor }) => tasks.release(params.id, body, actor),
  });

  defineRoute(app, {
    method: "POST",
    url: "/tasks/:id/cancel",
    operationId: "cancelTask",
    errors: ["TASK_NOT_FOUND", "TASK_NOT_CLAIMABLE"],
    access: "admin",
    summary: "Cancel an unfinished task; its node hears of it in the next heartbeat response",
    tags,
    params: S.IdParams,
    body: S.CancelBody,
    optionalBody: true,
    response: S.Task,
    handler: ({ params, body }) => tasks.cancel(params.id, body.reason ?? null),
  });
  defineRoute(app, {
    method: "POST",
    url: "/tasks/:id/retry",
    operationId: "retryTask",
    errors: ["TASK_NOT_FOUND", "TASK_NOT_RETRYABLE", "TOO_MANY_DEPENDENTS"],
    access: "admin",
    summary: "Run a failed or cancelled task again: back to pending, attempts reset, reasons cleared (task.retried)",
    tags,
    params: S.IdParams,
    response: S.Task,
    handler: ({ params }) => tasks.retry(params.id),
  });
}
