import type { FastifyInstance } from "fastify";
import { createCoordinator, type Coordinator, type CoordinatorOptions } from "../../src/coordinator/index.js";
import { createApp, type AppOptions } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { Store } from "../../src/store/types.js";
import { createConformance, type Conformance } from "./openapi-conformance.js";

export const TOKENS = { admin: "admin-secret-token", node: "node-secret-token", read: "read-secret-token" } as const;

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestServer {
  url: string;
  app: FastifyInstance;
  coordinator: Coordinator;
  store: Store;
  /** Answers so far that broke the OpenAPI document (undeclared status, body off its schema); `close()` fails on any. */
  violations: string[];
  /** Calls the API on the real port; `token` defaults to the admin token, `null` sends none. */
  api<T = any>(method: string, path: string, opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/** A real coordinator on a real port (127.0.0.1:0) over a memory store unless one is given. */
export async function startTestServer(
  opts: Partial<CoordinatorOptions> & { store?: Store; ssePingIntervalMs?: number; app?: Partial<AppOptions> } = {},
): Promise<TestServer> {
  const store = opts.store ?? createMemoryStore();
  const coordinator = createCoordinator({ ...opts, store });
  const app = createApp({
    coordinator,
    auth: {
      required: true,
      tokens: [
        { token: TOKENS.admin, role: "admin", name: "admin" },
        { token: TOKENS.node, role: "node", name: "node" },
        { token: TOKENS.read, role: "read", name: "reader" },
      ],
    },
    ssePingIntervalMs: opts.ssePingIntervalMs,
    ...opts.app,
  });
  const violations = checkResponses(app);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return {
    url,
    app,
    coordinator,
    store,
    violations,
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token === undefined ? TOKENS.admin : o.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = o.raw;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] ??= "application/json";
      }
      const res = await fetch(`${url}/api/v1${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // left as text: the caller asserts on it
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async close() {
      await app.close();
      await store.close();
      if (violations.length > 0) throw new Error(`responses that break the OpenAPI document:\n${[...new Set(violations)].join("\n")}`);
    },
  };
}

/**
 * Every answer of every test server is checked against the OpenAPI document the app generates
 * (DESIGN §14), so a route that answers a status it does not declare fails the test that saw it.
 * Preflights and HEAD are outside the document; streams (SSE) are checked by the OpenAPI test.
 */
function checkResponses(app: FastifyInstance): string[] {
  const violations: string[] = [];
  let conformance: Conformance | undefined;
  app.addHook("onSend", async (request, reply, payload) => {
    if (typeof payload !== "string" || request.method === "OPTIONS" || request.method === "HEAD") return payload;
    conformance ??= createConformance(app.swagger() as never);
    const { problems } = conformance.check({
      method: request.method,
      path: request.routeOptions.url ?? request.url.split("?")[0]!,
      status: reply.statusCode,
      contentType: String(reply.getHeader("content-type") ?? ""),
      body: payload,
    });
    violations.push(...problems);
    return payload;
  });
  return violations;
}

/** Registers a node and returns its registration id. */
export async function registerNode(
  server: TestServer,
  nodeId: string,
  opts: { labels?: Record<string, string>; maxWorkers?: number } = {},
): Promise<string> {
  const res = await server.api("POST", "/register", {
    token: TOKENS.node,
    body: { node_id: nodeId, hostname: `${nodeId}.example.com`, capacity: { max_workers: opts.maxWorkers ?? 5, current_workers: 0 }, labels: opts.labels ?? {} },
  });
  if (res.status !== 200) throw new Error(`register failed: ${JSON.stringify(res.body)}`);
  return res.body.data.registration_id;
}

export async function createTask(server: TestServer, body: Record<string, unknown>): Promise<any> {
  const res = await server.api("POST", "/tasks", { token: TOKENS.node, body: { repo: "my-repo", description: "do it", ...body } });
  if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
  return res.body.data;
}
