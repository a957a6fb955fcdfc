/** A real coordinator on port 0 for client tests, with one token per role. */
import { mkdtempSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.js";
import type { ServerConfig } from "../../src/config/types.js";
import { startServer } from "../../src/server/serve.js";

export const ADMIN = "admin-token-for-tests";
export const NODE = "node-token-for-tests";
export const READ = "read-token-for-tests";

export async function serverConfig(overrides: Partial<ServerConfig> = {}): Promise<ServerConfig> {
  const home = mkdtempSync(join(tmpdir(), "mcc-client-"));
  const base = (await loadConfig({ cwd: home, env: { HOME: home } })).server;
  return {
    ...base,
    listen: { host: "127.0.0.1", port: 0 },
    store: "memory://",
    auth: {
      required: true,
      tokens: [
        { token: ADMIN, role: "admin", name: "admin" },
        { token: NODE, role: "node", name: "node" },
        { token: READ, role: "read", name: "read" },
      ],
    },
    rate_limit: { enabled: false, requests_per_second: 50, burst: 100, max_streams_per_token: 100 },
    ...overrides,
  };
}

export async function startTestServer(overrides: Partial<ServerConfig> = {}) {
  const config = await serverConfig(overrides);
  const server = await startServer(config, { log: () => {} });
  return { ...server, config };
}

/**
 * A TCP proxy in front of a server whose connections the test can cut, to see what a client
 * does when its stream dies mid-way (a NAT timeout, a Wi-Fi change).
 */
export async function startCuttableProxy(targetPort: number): Promise<{ url: string; cutAll(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client: Socket) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cutAll: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface ProxiedRequest {
  method: string;
  url: string;
  body: string;
  /** 1 for the first request the proxy sees, 2 for the next ... */
  n: number;
}

export interface ProxiedReply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/**
 * An HTTP proxy in front of a real server that lets a test decide, per request, what the
 * client gets: the server's answer (`forward()`), the server's work without its answer
 * (`await forward()`, then `"hang-up"`: a lost response), or an answer of its own without
 * the server ever seeing the request. For what a client does when the network or a load
 * balancer misbehaves between it and a coordinator that behaves.
 */
export async function startInterceptingProxy(
  targetPort: number,
  decide: (req: ProxiedRequest, forward: () => Promise<ProxiedReply>) => Promise<ProxiedReply | "hang-up">,
): Promise<{ url: string; requests: ProxiedRequest[]; close(): Promise<void> }> {
  const requests: ProxiedRequest[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: ProxiedRequest = { method: req.method ?? "GET", url: req.url ?? "/", body: Buffer.concat(chunks).toString("utf8"), n: requests.length + 1 };
      requests.push(seen);
      const forward = () =>
        new Promise<ProxiedReply>((resolve, reject) => {
          const headers = { ...req.headers };
          delete headers["content-length"];
          const up = httpRequest({ host: "127.0.0.1", port: targetPort, method: seen.method, path: seen.url, headers }, (upRes) => {
            const body: Buffer[] = [];
            upRes.on("data", (c: Buffer) => body.push(c));
            upRes.on("end", () => resolve({ status: upRes.statusCode ?? 502, headers: { "content-type": String(upRes.headers["content-type"] ?? "application/json") }, body: Buffer.concat(body).toString("utf8") }));
            upRes.on("error", reject);
          });
          up.on("error", reject);
          up.end(seen.body);
        });
      decide(seen, forward).then(
        (reply) => {
          if (reply === "hang-up") return req.socket.destroy();
          res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
          res.end(reply.body);
        },
        () => req.socket.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
