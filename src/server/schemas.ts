/**
 * Request and response schemas of API v1 (typebox). Validation, the OpenAPI document and the
 * response serialisation all come from these, so they are the contract in code.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { MAX_CONCURRENCY_LIMIT } from "../core/concurrency.js";
import { MAX_DEPENDENCIES } from "../core/dependencies.js";
import { WORKER_BOUNDS } from "../core/nodes.js";
import { MAX_BATCH_TASKS } from "../core/tasks.js";
import { EVENT_TYPES, MESSAGE_STATUSES, NODE_HEALTHS, NODE_STATUSES, PRIORITIES, TASK_STATUSES } from "../core/types.js";

const NAME = "^[A-Za-z0-9][A-Za-z0-9._-]*$";
const LABEL_KEY = "^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$";
const LABEL_VALUE = "^[A-Za-z0-9._/+@=-]+$";
const ADDRESS = "^[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9][A-Za-z0-9._-]*)?$";
const REGISTRATION_ID = "^[A-Za-z0-9_-]+$";
const PRINTABLE = "^[\\x21-\\x7e]+$";
const METRIC = "^[a-z][a-z0-9_]{0,63}$";
/** Node ids, agent and worker names, repo names: no `@`, `/`, `,`, `:` or whitespace. */
export const Name = (description: string) => Type.String({ minLength: 1, maxLength: 128, pattern: NAME, description });
export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: NAME });
const Timestamp = Type.String({ format: "date-time" });
/** An ISO 8601 date-time with a time zone (`2026-12-01T09:00:00Z`, `...+02:00`). */
const ISO_TIME = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$";
/**
 * `t` or null, as a type list (`{type: ["string", "null"], ...}`) rather than `anyOf`: the response
 * serialiser (fast-json-stringify) picks an `anyOf` branch by running an ajv validator on the
 * value, which for null first fails the other branch and allocates its errors; a type list is a
 * `typeof` check. A pending list of 50 tasks allocated 311 KB that way (docs/performance.md).
 */
const Nullable = <T extends TSchema>(t: T) => {
  if (typeof t.type !== "string") throw new Error("Nullable takes a schema of one type");
  return Type.Unsafe<Static<T> | null>({ ...t, type: [t.type, "null"] });
};

export const Labels = Type.Record(
  Type.String({ pattern: LABEL_KEY }),
  Type.String({ minLength: 1, maxLength: 128, pattern: LABEL_VALUE }),
  { maxProperties: 32, additionalProperties: false, description: "key → value; a task's labels are requirements" },
);
/** One of `values`, as `enum` (not an `anyOf` of constants: see Nullable; errors read the same). */
const StringEnum = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: "string", enum: [...values] });
export const Priority = StringEnum(PRIORITIES);
/** Free text (descriptions, summaries, reasons, message bodies): any characters but C0 controls other than tab and newlines. */
const TEXT = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$";
const Text = (max: number, min = 0) => Type.String({ minLength: min, maxLength: max, pattern: TEXT });
/** A git branch name as multiclaude records it (`work/<worker>`): no whitespace or control characters. */
const BRANCH = "^[^\\s\\u0000-\\u001F\\u007F~^:?*\\[\\\\]+$";
const Branch = Type.String({ minLength: 1, maxLength: 255, pattern: BRANCH });
/** At most this many repos in one claim's `repos` filter. */
export const MAX_CLAIM_REPOS = 256;
const Address = Type.String({ minLength: 1, maxLength: 257, pattern: ADDRESS });

/** Each pattern above in words, for the 400's field messages (a regex means nothing to most people). */
export const PATTERN_WORDS: Record<string, string> = {
  [NAME]: "must be letters, digits, '.', '_' or '-', starting with a letter or digit (no spaces)",
  [LABEL_KEY]: "a label key must be letters, digits, '.', '_', '/' or '-', starting with a letter or digit, at most 63",
  [LABEL_VALUE]: "a label value must be letters, digits or any of . _ / + @ = -",
  [ADDRESS]: "must be agent or agent@node (letters, digits, '.', '_' or '-')",
  [REGISTRATION_ID]: "must be letters, digits, '_' or '-'",
  [PRINTABLE]: "must be printable ASCII without spaces",
  [METRIC]: "a metric name must be lowercase letters, digits or '_', starting with a letter",
  [TEXT]: "must not contain control characters (tab and newlines are fine)",
  [BRANCH]: "a branch name must not contain spaces, control characters or any of ~ ^ : ? * [ \\",
};

// ---- entities -------------------------------------------------------------

export const AgentSummary = Type.Object(
  {
    name: Name("agent name"),
    type: Type.String({ minLength: 1, maxLength: 64 }),
    status: Type.String({ minLength: 1, maxLength: 64 }),
    task: Type.Optional(Nullable(Text(4096))),
    repo: Type.Optional(Nullable(Name("repo"))),
    task_id: Type.Optional(Nullable(Id)),
  },
  { additionalProperties: false },
);
const Metrics = Type.Record(Type.String({ pattern: METRIC }), Type.Number(), {
  maxProperties: 32,
  additionalProperties: false,
});
const RepoReport = Type.Object({ name: Name("repo"), active_prs: Type.Integer({ minimum: 0, maximum: 1_000_000 }) }, { additionalProperties: false });

export const Node = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  capacity: Type.Object({ max_workers: Type.Integer(), current_workers: Type.Integer() }),
  labels: Type.Record(Type.String(), Type.String()),
  status: StringEnum(NODE_STATUSES),
  health: StringEnum(NODE_HEALTHS),
  registered_at: Timestamp,
  last_seen: Timestamp,
  agents: Type.Array(AgentSummary),
  metrics: Type.Record(Type.String(), Type.Number()),
  repos: Type.Array(RepoReport),
  claimed_tasks: Type.Array(Type.String()),
  report_truncated: Type.Optional(Type.Literal(true, { description: "the stored report was cut to 64 KiB (task texts to 1 KiB)" })),
  cordoned: Type.Boolean({ description: "an admin cordoned the node: it keeps its claims and gets no new ones" }),
});

export const Task = Type.Object({
  id: Type.String(),
  repo: Type.String(),
  description: Type.String(),
  priority: Priority,
  labels: Type.Record(Type.String(), Type.String()),
  status: StringEnum(TASK_STATUSES),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  idempotency_key: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  claimed_by: Nullable(Type.String()),
  claimed_node: Nullable(Type.String()),
  worker_name: Nullable(Type.String()),
  claimed_at: Nullable(Timestamp),
  lease_expires_at: Nullable(Timestamp),
  completed_at: Nullable(Timestamp),
  result: Nullable(Type.Object({ pr: Nullable(Type.String()), summary: Nullable(Type.String()), branch: Nullable(Type.String()) })),
  failure_reason: Nullable(Type.String()),
  cancel_reason: Nullable(Type.String()),
  not_before: Type.Optional(Nullable(Timestamp)),
  concurrency_key: Type.Optional(Nullable(Type.String({ description: "at most concurrency_limit tasks with this key are claimed at once" }))),
  concurrency_limit: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  depends_on: Type.Optional(Type.Array(Type.String(), { description: "tasks that must complete before this one can be claimed" })),
  blocked_by: Type.Optional(Type.Array(Type.String(), { description: "those of depends_on not completed yet; the task is `waiting` while any" })),
  cooldown: Type.Optional(
    Nullable(
      Type.Object(
        { node_id: Type.String(), until: Timestamp },
        { description: "the node that gave this task back is not offered it again by POST /tasks/claim until `until`" },
      ),
    ),
  ),
});

/** `POST /tasks`: the task, plus `warnings` when no online node could take it now (issue 13). */
export const CreatedTask = Type.Composite([
  Task,
  Type.Object({ warnings: Type.Optional(Type.Array(Type.String(), { description: "e.g. no online node has the task's labels; the task waits" })) }),
]);

export const Message = Type.Object({
  id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  to_agent: Type.String(),
  to_node: Type.String(),
  repo: Nullable(Type.String()),
  body: Type.String(),
  status: StringEnum(MESSAGE_STATUSES),
  created_at: Timestamp,
  acked_at: Nullable(Timestamp),
});

export const Event = Type.Object({
  id: Type.Integer(),
  type: StringEnum(EVENT_TYPES),
  data: Type.Object({ ts: Timestamp }, { additionalProperties: true }),
});

// ---- requests -------------------------------------------------------------

const RegistrationId = Type.String({ minLength: 1, maxLength: 128, pattern: REGISTRATION_ID });
const WorkerName = Name("the agent that works on the task, e.g. worker-3");

export const RegisterBody = Type.Object(
  {
    node_id: Name("stable id of this machine"),
    hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: NAME })),
    capacity: Type.Optional(
      Type.Object(
        { max_workers: Type.Optional(Type.Integer({ minimum: WORKER_BOUNDS.min, maximum: WORKER_BOUNDS.max })), current_workers: Type.Optional(Type.Integer({ minimum: WORKER_BOUNDS.min, maximum: WORKER_BOUNDS.max })) },
        { additionalProperties: false },
      ),
    ),
    labels: Type.Optional(Labels),
  },
  { additionalProperties: false },
);

export const HeartbeatBody = Type.Object(
  {
    registration_id: RegistrationId,
    status: Type.Optional(StringEnum(NODE_HEALTHS)),
    agents: Type.Optional(Type.Array(AgentSummary, { maxItems: 256 })),
    metrics: Type.Optional(Metrics),
    repos: Type.Optional(Type.Array(RepoReport, { maxItems: 256 })),
    capacity: Type.Optional(Type.Object({ current_workers: Type.Optional(Type.Integer({ minimum: WORKER_BOUNDS.min, maximum: WORKER_BOUNDS.max })) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const RegistrationBody = Type.Object({ registration_id: RegistrationId }, { additionalProperties: false });

export const CreateTaskBody = Type.Object(
  {
    repo: Name("repository name as multiclaude knows it"),
    description: Text(65_536, 1),
    priority: Type.Optional(Priority),
    labels: Type.Optional(Labels),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: PRINTABLE })),
    not_before: Type.Optional(
      Type.String({
        format: "date-time",
        pattern: ISO_TIME,
        maxLength: 40,
        description: "ISO time: the task is `waiting` until then (at most a year ahead), then `pending` (task.ready)",
      }),
    ),
    concurrency_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: PRINTABLE,
        description: "at most concurrency_limit tasks with this key are claimed at once, across all nodes and replicas",
      }),
    ),
    concurrency_limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_CONCURRENCY_LIMIT, description: "default 1; needs concurrency_key (400 without)" }),
    ),
    depends_on: Type.Optional(
      Type.Array(Id, {
        maxItems: MAX_DEPENDENCIES,
        description:
          "ids of tasks that must complete first (repeats ignored; each must exist, else 404 TASK_NOT_FOUND): the task is `waiting` until all have completed; if one fails for good or is cancelled, so is this task",
      }),
    ),
  },
  { additionalProperties: false },
);

export const CreateTaskBatchBody = Type.Object(
  { tasks: Type.Array(CreateTaskBody, { minItems: 1, maxItems: MAX_BATCH_TASKS, description: "each item as a POST /tasks body" }) },
  { additionalProperties: false },
);

export const CreatedTaskBatch = Type.Object({
  tasks: Type.Array(Task, { description: "one per item, in order: the new task, or the existing one of a repeated idempotency_key" }),
  created: Type.Array(Type.Boolean(), { description: "per item: true when this request created it, false when its idempotency_key already had a task" }),
});

export const ClaimBody = Type.Object({ registration_id: RegistrationId, worker_name: WorkerName }, { additionalProperties: false });

export const ClaimNextBody = Type.Object(
  {
    registration_id: RegistrationId,
    worker_name: WorkerName,
    repo: Type.Optional(Name("only tasks of this repo")),
    repos: Type.Optional(
      Type.Array(Name("repo"), { maxItems: MAX_CLAIM_REPOS, description: "only tasks of these repos (the repos multiclaude has on this node); [] matches nothing" }),
    ),
    wait_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 300 })),
  },
  { additionalProperties: false },
);

export const CompleteBody = Type.Object(
  { registration_id: RegistrationId, pr: Type.Optional(Text(2048, 1)), summary: Type.Optional(Text(65_536)), branch: Type.Optional(Branch) },
  { additionalProperties: false },
);
export const FailBody = Type.Object(
  { registration_id: RegistrationId, reason: Text(65_536, 1), retry: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const ReleaseBody = Type.Object(
  { registration_id: RegistrationId, reason: Type.Optional(Text(4096, 1)) },
  { additionalProperties: false },
);
export const CancelBody = Type.Object({ reason: Type.Optional(Text(4096, 1)) }, { additionalProperties: false });

export const SendMessageBody = Type.Object(
  { registration_id: Type.Optional(RegistrationId), from: Address, to: Address, body: Text(65_536, 1), repo: Type.Optional(Name("repo")) },
  { additionalProperties: false },
);
export const AckBody = Type.Object({ registration_id: Type.Optional(RegistrationId) }, { additionalProperties: false });

// ---- queries and params ---------------------------------------------------

/** `next_cursor` of a paged list: pass it as `cursor` for the next page; null on the last page. */
export const NextCursor = Type.Union([Type.String(), Type.Null()]);

const Limit = Type.Integer({ minimum: 1, maximum: 1000 });
export const IdParams = Type.Object({ id: Id });
export const RepoParams = Type.Object({ repo: Name("repo") });
export const NodesQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(NODE_STATUSES)),
    label: Type.Optional(Type.String({ maxLength: 4096 })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export const TasksQuery = Type.Object(
  { status: Type.Optional(StringEnum(TASK_STATUSES)), repo: Type.Optional(Name("repo")), limit: Type.Optional(Limit), cursor: Type.Optional(Id) },
  { additionalProperties: false },
);
export const PendingQuery = Type.Object(
  {
    labels: Type.Optional(Type.String({ maxLength: 4096 })),
    repo: Type.Optional(Name("repo")),
    repos: Type.Optional(
      Type.String({ maxLength: 33_000, pattern: `^(${NAME.slice(1, -1)})(,(${NAME.slice(1, -1)}))*$`, description: "only tasks of these repos, comma-separated" }),
    ),
    limit: Type.Optional(Limit),
    wait_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 300 })),
  },
  { additionalProperties: false },
);
export const MessagesQuery = Type.Object(
  {
    node: Type.Optional(Name("node id")),
    to: Type.Optional(Address),
    status: Type.Optional(StringEnum(MESSAGE_STATUSES)),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export const EventsQuery = Type.Object(
  {
    since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Limit),
    types: Type.Optional(Type.String({ maxLength: 1024 })),
    repo: Type.Optional(Name("repo")),
  },
  { additionalProperties: false },
);

/** The success envelope around a data schema, for responses and the OpenAPI document. */
export function ok<T extends TSchema>(data: T) {
  return Type.Object({ success: Type.Literal(true), data });
}

export const ErrorEnvelope = Type.Object({
  success: Type.Literal(false),
  error: Type.String(),
  code: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export type RegisterBody = Static<typeof RegisterBody>;
