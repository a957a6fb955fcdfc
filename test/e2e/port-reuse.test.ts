/**
 * The suites restart a `serve` (agent-failover) and a webhook receiver (webhooks) on the port of
 * their last run. Test files run in parallel and bind port 0 all the time, so that port may be
 * held by another process for a moment: the restart must wait for it, not fail.
 */
import { createServer, type Server } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, startServe } from "../fixtures/agent-harness.js";
import { startReceiver } from "../helpers/webhook-receiver.js";

/** Another process's socket on a port, let go after `ms`. */
async function squat(ms: number): Promise<{ port: number; gone: Promise<void> }> {
  const server: Server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const gone = new Promise<void>((resolve) => setTimeout(() => server.close(() => resolve()), ms));
  return { port: (server.address() as { port: number }).port, gone };
}

describe("a restart on a port another process holds for a moment", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it("serve starts once the port is free", async () => {
    const { port, gone } = await squat(3000);
    const serve = await startServe({ listen: `127.0.0.1:${port}` });
    cleanups.push(() => serve.stop());
    await gone;
    expect(serve.port).toBe(port);
    expect((await serve.admin.status()).version).toBeTruthy();
  });

  it("the webhook receiver listens once the port is free", async () => {
    const { port, gone } = await squat(600);
    const receiver = await startReceiver(port);
    cleanups.push(() => receiver.close());
    await gone;
    expect(receiver.port).toBe(port);
    const res = await fetch(receiver.url, { method: "POST", body: JSON.stringify({ id: 1, type: "t", data: {} }) });
    expect(res.status).toBe(200);
  });
});
