/**
 * Small helpers over test-server.ts for the API suites: a movable clock, typed shortcuts for the
 * node-side calls, envelope assertions and a reader of the whole event log.
 */
import { expect } from "vitest";
import { TOKENS, registerNode, type ApiResponse, type TestServer } from "./test-server.js";

/** A clock the coordinator reads (`clock: clock.now`) and the test moves. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
  iso(): string;
}

export function makeClock(start = Date.parse("2026-01-20T10:00:00.000Z")): TestClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
    iso: () => new Date(t).toISOString(),
  };
}

/** Asserts the success envelope and returns `data`. */
export function okData<T = any>(res: ApiResponse, status = 200): T {
  if (res.status !== status || res.body?.success !== true) {
    throw new Error(`expected ${status} success, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  expect(Object.keys(res.body).sort()).toEqual(["data", "success"]);
  return res.body.data as T;
}

/** Asserts the error envelope of DESIGN section 5 (and that no internals leak), returns its details. */
export function expectError(res: ApiResponse, status: number, code: string): Record<string, any> {
  if (res.status !== status || res.body?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  expect(res.body.success).toBe(false);
  expect(typeof res.body.error).toBe("string");
  expect(res.body.error.length).toBeGreaterThan(0);
  expect(typeof res.body.details).toBe("object");
  expect(res.body.details).not.toBeNull();
  expect(Object.keys(res.body).sort()).toEqual(["code", "details", "error", "success"]);
  expectNoInternals(res);
  return res.body.details;
}

/** No stack trace or source path in an answer. */
export function expectNoInternals(res: ApiResponse): void {
  const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
  expect(text).not.toMatch(/\n\s+at [^\n]+:\d+:\d+/);
  expect(text).not.toMatch(/node_modules|\/src\/|\.ts:\d+|"stack"/);
}

export async function heartbeat(server: TestServer, registrationId: string, body: Record<string, unknown> = {}): Promise<ApiResponse> {
  return server.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: registrationId, ...body } });
}

export async function claim(server: TestServer, taskId: string, registrationId: string, worker = "worker-1"): Promise<ApiResponse> {
  return server.api("POST", `/tasks/${taskId}/claim`, { token: TOKENS.node, body: { registration_id: registrationId, worker_name: worker } });
}

export async function claimNext(
  server: TestServer,
  registrationId: string,
  opts: { worker?: string; wait_seconds?: number; repo?: string } = {},
): Promise<ApiResponse> {
  const { worker = "worker-1", ...rest } = opts;
  return server.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: registrationId, worker_name: worker, ...rest } });
}

export async function finish(
  server: TestServer,
  action: "complete" | "fail" | "release",
  taskId: string,
  registrationId: string,
  extra: Record<string, unknown> = {},
): Promise<ApiResponse> {
  return server.api("POST", `/tasks/${taskId}/${action}`, { token: TOKENS.node, body: { registration_id: registrationId, ...extra } });
}

export async function getTask(server: TestServer, id: string): Promise<any> {
  return okData(await server.api("GET", `/tasks/${id}`, { token: TOKENS.read }));
}

export async function getNode(server: TestServer, id: string): Promise<any> {
  return okData(await server.api("GET", `/nodes/${id}`, { token: TOKENS.read }));
}

export interface LoggedEvent {
  id: number;
  type: string;
  data: Record<string, any>;
}

/** Every retained event after `since`, via GET /events (paged). */
export async function allEvents(server: TestServer, since = 0, query = ""): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  let cursor = since;
  for (;;) {
    const data = okData(await server.api("GET", `/events?since=${cursor}&limit=1000${query}`, { token: TOKENS.read }));
    out.push(...data.events);
    if (data.events.length < 1000) return out;
    cursor = data.events[data.events.length - 1].id;
  }
}

export async function lastEventId(server: TestServer): Promise<number> {
  return okData(await server.api("GET", "/status", { token: TOKENS.read })).last_event_id;
}

/** What a rejected request must not have changed: the counts and the event log. */
export async function snapshot(server: TestServer): Promise<{ nodes: unknown; tasks: unknown; last_event_id: number; events: LoggedEvent[] }> {
  const status = okData(await server.api("GET", "/status", { token: TOKENS.read }));
  return { nodes: status.nodes, tasks: status.tasks, last_event_id: status.last_event_id, events: await allEvents(server) };
}

/** Registers `count` nodes `prefix-0..` in parallel and returns their registration ids in order. */
export async function registerNodes(
  server: TestServer,
  count: number,
  prefix: string,
  opts: { labels?: Record<string, string>; maxWorkers?: number } = {},
): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => registerNode(server, `${prefix}-${i}`, opts)));
}

export { TOKENS };
