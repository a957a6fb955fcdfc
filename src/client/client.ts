import type { CoordEvent, Labels, Message, Node, RepoState, Task } from "../core/types.js";
import { streamEvents } from "./event-stream.js";
import { createRegistration, type Registration } from "./registration.js";
import { Transport } from "./transport.js";
import type { WebhookList, WebhookTestResult } from "./types.js";
import type {
  ClaimNextRequest,
  ClientOptions,
  CreateTaskRequest,
  CreatedTaskBatch,
  DeregisterResponse,
  EventPage,
  EventQuery,
  HeartbeatRequest,
  HeartbeatResponse,
  ListMessagesQuery,
  ForgetNodeResponse,
  ListNodesQuery,
  MessagePage,
  NodePage,
  PageQuery,
  ListTasksQuery,
  PendingQuery,
  RegisterRequest,
  RegisterResponse,
  SendMessageRequest,
  ServerStatus,
  StreamEvent,
  StreamOptions,
  TaskPage,
} from "./types.js";

const VERSION = "0.1.0";

/** `{pool: "gpu"}` → `pool:gpu` (the API's query form). */
export function labelQuery(labels: Labels | undefined): string | undefined {
  if (!labels) return undefined;
  const parts = Object.entries(labels).map(([k, v]) => `${k}:${v}`);
  return parts.length ? parts.join(",") : undefined;
}

const enc = encodeURIComponent;

/**
 * A client of the coordination REST API (DESIGN section 5). One keep-alive connection pool
 * per client; call `close()` when done. Node calls (heartbeat, claims, ...) use the client's
 * registration; if the coordinator has forgotten it (`REGISTRATION_NOT_FOUND`), the client
 * registers again with the last request and retries the call once.
 *
 * @example
 * const client = new Client({ url: "http://127.0.0.1:7331", token });
 * await client.register({ node_id: "machine-b", labels: { pool: "gpu" } });
 * const task = await client.claimNext({ workerName: "worker-1", waitSeconds: 30 });
 */
/** Reads pages until `next_cursor` is null and returns their items in order. */
async function allPages<P extends { next_cursor: string | null }, T>(read: (cursor?: string) => Promise<P>, items: (page: P) => T[]): Promise<T[]> {
  const out: T[] = [];
  for (let cursor: string | undefined; ; ) {
    const page = await read(cursor);
    out.push(...items(page));
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
}

export class Client {
  readonly transport: Transport;
  private readonly node: Registration;

  constructor(options: ClientOptions) {
    this.transport = new Transport({
      url: options.url,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 3,
      tls: options.tls,
      userAgent: options.userAgent ?? `multiclaude-coord/${VERSION}`,
      onWarning: options.onWarning,
    });
    this.node = createRegistration({ transport: this.transport, initial: options.registration, onRegistered: options.onRegistered });
  }

  /** The base URL requests go to (origin and any prefix, without `/api/v1`). */
  get url(): string {
    return this.transport.baseUrl;
  }

  /** The current registration id, if this client has registered (or was given one). */
  get registrationId(): string | undefined {
    return this.node.id;
  }

  /** Closes the connection pool; the client cannot be used afterwards. */
  close(): Promise<void> {
    return this.transport.close();
  }

  // ── Server ─────────────────────────────────────────────────────────────

  health(): Promise<{ status: string }> {
    return this.transport.request("GET", "/health");
  }

  /** Version, uptime, store backend, node and task counts, last event id. */
  status(): Promise<ServerStatus> {
    return this.transport.request("GET", "/status");
  }

  // ── Webhooks ───────────────────────────────────────────────────────────

  /** Each configured webhook's delivery: position, lag, last status and error (admin). */
  listWebhooks(): Promise<WebhookList> {
    return this.transport.request("GET", "/webhooks");
  }

  /** Sends one test event to a webhook through the coordinator (admin); says how the receiver answered. */
  testWebhook(name: string): Promise<WebhookTestResult> {
    return this.transport.request("POST", `/webhooks/${encodeURIComponent(name)}/test`);
  }

  // ── Nodes ──────────────────────────────────────────────────────────────

  /** Registers (upserts) this node; later node calls use the returned registration id. */
  register(request: RegisterRequest): Promise<RegisterResponse> {
    return this.node.register(request);
  }

  /** Reports liveness, agents and metrics; renews the leases of this node's claims. */
  heartbeat(request: HeartbeatRequest = {}): Promise<HeartbeatResponse> {
    return this.node.asNode(request.registration_id, (registration_id) =>
      this.transport.request<HeartbeatResponse>("POST", "/heartbeat", { body: { ...request, registration_id }, retry: "safe" }),
    );
  }

  /**
   * Leaves the coordinator; the node's claims go back to pending. Retried like a safe call: when
   * a resend finds the registration gone (`REGISTRATION_NOT_FOUND`), an earlier attempt did it
   * and only its answer was lost, so that counts as done (without the list of released tasks).
   */
  deregister(registrationId?: string): Promise<DeregisterResponse> {
    return this.node.deregister(registrationId);
  }

  /** One page of nodes, by id (`limit` default 100, at most 1000); continue with `cursor: page.next_cursor`. */
  listNodesPage(query: ListNodesQuery & PageQuery = {}): Promise<NodePage> {
    return this.transport.request<NodePage>("GET", "/nodes", {
      query: { status: query.status, label: labelQuery(query.labels), limit: query.limit, cursor: query.cursor },
    });
  }

  /** Every node that matches, following the pages (1000 a request). */
  listNodes(query: ListNodesQuery = {}): Promise<Node[]> {
    return allPages((cursor) => this.listNodesPage({ ...query, limit: 1000, cursor }), (p) => p.nodes);
  }

  getNode(id: string): Promise<Node> {
    return this.transport.request("GET", `/nodes/${enc(id)}`);
  }

  /** Forgets a node now (admin): its claims go back to pending, its undelivered messages are dropped. */
  forgetNode(id: string): Promise<ForgetNodeResponse> {
    return this.transport.request("DELETE", `/nodes/${enc(id)}`);
  }

  /**
   * Cordons a node (admin): it keeps its claims and gets no new ones until uncordoned. Idempotent,
   * so it is resent like a safe call.
   */
  cordonNode(id: string): Promise<Node> {
    return this.transport.request("POST", `/nodes/${enc(id)}/cordon`, { retry: "safe" });
  }

  /** Lifts a cordon (admin): the node takes new tasks again. Idempotent. */
  uncordonNode(id: string): Promise<Node> {
    return this.transport.request("POST", `/nodes/${enc(id)}/uncordon`, { retry: "safe" });
  }

  // ── Tasks ──────────────────────────────────────────────────────────────

  /**
   * Creates a task; with `idempotency_key` the same key returns the same task, so it is retried
   * safely. `warnings` is there when no online node could take it now (labels nobody has).
   */
  createTask(request: CreateTaskRequest): Promise<Task & { warnings?: string[] }> {
    return this.transport.request("POST", "/tasks", { body: request, retry: request.idempotency_key ? "safe" : "unsafe" });
  }

  /**
   * Creates up to 1,000 tasks in one atomic request (`POST /tasks/batch`): all or none, in order.
   * `created[i]` is false when item i's `idempotency_key` already had a task (then `tasks[i]` is
   * that task). Retried only when every item has an idempotency key.
   */
  createTasks(tasks: CreateTaskRequest[]): Promise<CreatedTaskBatch> {
    const safe = tasks.every((t) => t.idempotency_key);
    return this.transport.request("POST", "/tasks/batch", { body: { tasks }, retry: safe ? "safe" : "unsafe" });
  }

  listTasks(query: ListTasksQuery = {}): Promise<TaskPage> {
    return this.transport.request("GET", "/tasks", { query: { ...query } });
  }

  /** The tasks a node with exactly these labels could claim (PRD `GetPendingTasks`). */
  async getPendingTasks(labels?: Labels, query: PendingQuery = {}): Promise<Task[]> {
    if (query.repos?.length === 0) return [];
    const data = await this.transport.request<{ tasks: Task[] }>("GET", "/tasks/pending", {
      query: { labels: labelQuery(labels), repo: query.repo, repos: query.repos?.join(","), limit: query.limit, wait_seconds: query.waitSeconds },
      extraTimeoutMs: (query.waitSeconds ?? 0) * 1000,
    });
    return data.tasks;
  }

  getTask(id: string): Promise<Task> {
    return this.transport.request("GET", `/tasks/${enc(id)}`);
  }

  /** Claims one task for `workerName` on this node; 409 `TASK_CLAIMED` when someone was first. */
  claimTask(taskId: string, workerName: string, options: { registrationId?: string } = {}): Promise<Task> {
    return this.node.asNode(options.registrationId, (registration_id) =>
      this.transport.request<Task>("POST", `/tasks/${enc(taskId)}/claim`, { body: { registration_id, worker_name: workerName } }),
    );
  }

  /** Claims the best fitting task, waiting up to `waitSeconds` for one; `null` when none came. */
  async claimNext(request: ClaimNextRequest): Promise<Task | null> {
    const data = await this.node.asNode(undefined, (registration_id) =>
      this.transport.request<{ task: Task | null }>("POST", "/tasks/claim", {
        body: { registration_id, worker_name: request.workerName, repo: request.repo, repos: request.repos, wait_seconds: request.waitSeconds },
        extraTimeoutMs: (request.waitSeconds ?? 0) * 1000,
        signal: request.signal,
      }),
    );
    return data.task;
  }

  /** Completes the task with its PR (URL or `#42`), summary and the branch the work is on, as far as known. */
  completeTask(taskId: string, result: { pr?: string; summary?: string; branch?: string } = {}): Promise<Task> {
    return this.node.asNode(undefined, (registration_id) =>
      this.transport.request<Task>("POST", `/tasks/${enc(taskId)}/complete`, { body: { registration_id, ...result } }),
    );
  }

  /** Fails the task; with `retry` (default true) it goes back to pending while attempts remain. */
  failTask(taskId: string, failure: { reason: string; retry?: boolean }): Promise<Task> {
    return this.node.asNode(undefined, (registration_id) =>
      this.transport.request<Task>("POST", `/tasks/${enc(taskId)}/fail`, { body: { registration_id, ...failure } }),
    );
  }

  releaseTask(taskId: string, options: { reason?: string } = {}): Promise<Task> {
    return this.node.asNode(undefined, (registration_id) =>
      this.transport.request<Task>("POST", `/tasks/${enc(taskId)}/release`, { body: { registration_id, ...options } }),
    );
  }

  /** Runs a failed or cancelled task again (admin): pending, attempts reset; 409 TASK_NOT_RETRYABLE otherwise. */
  retryTask(taskId: string): Promise<Task> {
    return this.transport.request("POST", `/tasks/${enc(taskId)}/retry`);
  }

  /** Cancels an unfinished task (admin token). */
  cancelTask(taskId: string, options: { reason?: string } = {}): Promise<Task> {
    return this.transport.request("POST", `/tasks/${enc(taskId)}/cancel`, { body: options });
  }

  // ── State, messages, events ────────────────────────────────────────────

  getState(repo: string): Promise<RepoState> {
    return this.transport.request("GET", `/state/${enc(repo)}`);
  }

  /**
   * Sends `body` to `agent@node` (or a bare agent name plus `repo`). A registered client sends
   * through its registration, which a node token must (`from` is then `name@<this node>`);
   * an admin token may send unregistered, as anyone.
   */
  sendMessage(message: SendMessageRequest): Promise<Message> {
    if (!this.node.id) return this.transport.request("POST", "/messages", { body: message });
    return this.node.asNode(undefined, (registration_id) => this.transport.request<Message>("POST", "/messages", { body: { registration_id, ...message } }));
  }

  /** One page of messages, oldest first (`limit` default 100, at most 1000); continue with `cursor: page.next_cursor`. */
  listMessagesPage(query: ListMessagesQuery & PageQuery = {}): Promise<MessagePage> {
    return this.transport.request<MessagePage>("GET", "/messages", { query: { ...query } });
  }

  /** Every message that matches, following the pages (1000 a request). */
  listMessages(query: ListMessagesQuery = {}): Promise<Message[]> {
    return allPages((cursor) => this.listMessagesPage({ ...query, limit: 1000, cursor }), (p) => p.messages);
  }

  /**
   * Acknowledges a message (idempotent, so retried safely). A registered client acks as its
   * node, which a node token must: only the node a message is addressed to may ack it.
   */
  ackMessage(id: string): Promise<Message> {
    const ack = (body: { registration_id?: string }) => this.transport.request<Message>("POST", `/messages/${enc(id)}/ack`, { body, retry: "safe" });
    return this.node.id ? this.node.asNode(undefined, (registration_id) => ack({ registration_id })) : ack({});
  }

  /**
   * One page of the event log after `since` (at most `limit`, server cap 1000), with the log's
   * bounds: `reset` says `since` is not in the log (trimmed away, or newer than `last_event_id`
   * because the coordinator restarted with a new log). A read looks at a bounded number of
   * events, so with `types`/`repo` filters a page can be short (even empty) before the log's
   * end: continue with `since: page.next` while `page.next < page.last_event_id`. For
   * scripts; `streamEvents` follows.
   */
  readEvents(query: EventQuery = {}): Promise<EventPage> {
    return this.transport.request<EventPage>("GET", "/events", {
      query: { since: query.since, limit: query.limit, types: query.types?.join(","), repo: query.repo },
    });
  }

  /** @deprecated Use `readEvents`, which also tells whether `since` was still in the log. */
  async listEvents(query: EventQuery = {}): Promise<CoordEvent[]> {
    return (await this.readEvents(query)).events;
  }

  /**
   * Follows the event stream, reconnecting by itself and resuming where it stopped.
   *
   * @example
   * for await (const event of client.streamEvents({ types: ["task.*"], signal })) console.log(event.type);
   */
  streamEvents(options: StreamOptions = {}): AsyncGenerator<StreamEvent> {
    return streamEvents(this.transport, options);
  }
}
