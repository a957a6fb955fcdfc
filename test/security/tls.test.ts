import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeConfig } from "../../src/config/index.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { makeTestCerts, type TestCerts } from "../helpers/certs.js";

const TOKEN = "tls-admin-token";

function get(url: string, opts: { ca?: string; cert?: string; key?: string } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${url}/api/v1/status`,
      {
        headers: { authorization: `Bearer ${TOKEN}` },
        ca: opts.ca ? readFileSync(opts.ca) : undefined,
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function serverConfig(dir: string, tls: Record<string, unknown>) {
  const problems: string[] = [];
  const config = normalizeConfig(
    { server: { listen_addr: "127.0.0.1:0", auth: { tokens: [TOKEN] }, tls }, store: "memory://" },
    { HOME: dir },
    problems,
  );
  expect(problems).toEqual([]);
  return config.server;
}

describe("TLS and mTLS", () => {
  let dir: string;
  let certs: TestCerts;
  let tlsServer: RunningServer;
  let mtlsServer: RunningServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mcc-tls-"));
    certs = makeTestCerts(dir);
    const log = () => {};
    tlsServer = await startServer(serverConfig(dir, { enabled: true, cert_file: certs.serverCert, key_file: certs.serverKey }), { log, env: { HOME: dir } });
    mtlsServer = await startServer(
      serverConfig(dir, { enabled: true, cert_file: certs.serverCert, key_file: certs.serverKey, ca_file: certs.ca, client_auth: "require" }),
      { log, env: { HOME: dir } },
    );
  }, 60_000);

  afterAll(async () => {
    await tlsServer?.close();
    await mtlsServer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the API over TLS to a client that trusts the CA", async () => {
    expect(tlsServer.url).toMatch(/^https:\/\//);
    const res = await get(tlsServer.url, { ca: certs.ca });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
  });

  it("refuses a client that does not trust the server's certificate", async () => {
    await expect(get(tlsServer.url)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it("plain HTTP to the TLS port fails cleanly and the server keeps serving", async () => {
    const plain = tlsServer.url.replace("https://", "http://");
    const outcome = await fetch(`${plain}/api/v1/health`).then(
      (r) => `status ${r.status}`,
      (err: Error) => `error ${err.message}`,
    );
    expect(outcome).not.toBe("status 200");
    expect((await get(tlsServer.url, { ca: certs.ca })).status).toBe(200);
  });

  it("mTLS: no client certificate fails the handshake", async () => {
    await expect(get(mtlsServer.url, { ca: certs.ca })).rejects.toThrow();
  });

  it("mTLS: a certificate from another CA fails the handshake", async () => {
    await expect(get(mtlsServer.url, { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey })).rejects.toThrow();
  });

  it("mTLS: a client certificate from the trusted CA works", async () => {
    const res = await get(mtlsServer.url, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
    expect(res.status).toBe(200);
    expect(res.body.data.store).toBe("memory");
  });
});
