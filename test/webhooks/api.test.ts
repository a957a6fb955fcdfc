import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/store/memory.js";
import { createWebhookService, signBody, type WebhookService } from "../../src/webhooks/index.js";
import { eventually } from "../store/conformance-harness.js";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.js";
import { createTask, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

describe("GET /webhooks, POST /webhooks/{name}/test, webhook metrics", () => {
  let server: TestServer | undefined;
  let service: WebhookService | undefined;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await service?.stop();
    await server?.close();
    await receiver?.close();
  });

  async function setup() {
    receiver = await startReceiver();
    const store = createMemoryStore();
    service = createWebhookService({
      store,
      webhooks: [
        { name: "ci", url: receiver.url, format: "json", from: "end", secret: "top-secret-value", events: ["task.*"] },
        { name: "chat", url: `http://127.0.0.1:${receiver.port}/services/T000/B000/XXXXsecretpath`, format: "slack", from: "end" },
      ],
      tuning: { retryBaseMs: 20, retryMaxMs: 40 },
    });
    server = await startTestServer({ store, app: { webhooks: service } });
    service.start();
    return { receiver, service, server };
  }

  it("shows position, lag and last status per webhook, never the secret or the URL beyond its host", async () => {
    const { receiver, server } = await setup();
    await eventually(async () => expect((await server.api("GET", "/webhooks")).body.data.webhooks.every((w: any) => w.lease_owner)).toBe(true));
    await createTask(server, {});
    await eventually(() => expect(receiver.requests).toHaveLength(2));
    const res = await server.api("GET", "/webhooks");
    expect(res.status).toBe(200);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain("top-secret-value");
    expect(text).not.toContain("q-secret");
    expect(text).not.toContain("XXXXsecretpath");
    await eventually(async () => {
      const [ci, chat] = (await server.api("GET", "/webhooks")).body.data.webhooks;
      expect(ci).toMatchObject({ name: "ci", url_host: `127.0.0.1:${receiver.port}`, events: ["task.*"], format: "json", signed: true, lag: 0, last_status: 200, delivered: 1 });
      expect(chat).toMatchObject({ name: "chat", format: "slack", signed: false, events: ["*"], delivered: 1, lease_owner: service!.replicaId });
    });
    const slack = receiver.requests.find((r) => r.json.text)!;
    expect(slack.json.text).toMatch(/^🆕 task-\S+ \(my-repo\) created \(medium priority\): do it$/);

    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKENS.read}` } })).text();
    expect(metrics).toMatch(/^webhook_deliveries_total\{webhook="ci",outcome="delivered"\} 1$/m);
    expect(metrics).toMatch(/^webhook_lag_events\{webhook="ci"\} 0$/m);
    expect(metrics).not.toContain("top-secret-value");
  });

  it("counts failures in the metrics and shows the last error", async () => {
    const { receiver, server } = await setup();
    receiver.answer((r) => (r.json.text ? 200 : 500));
    await eventually(async () => expect((await server.api("GET", "/webhooks")).body.data.webhooks[0].lease_owner).toBeTruthy());
    await createTask(server, {});
    await eventually(async () => {
      const [ci] = (await server.api("GET", "/webhooks")).body.data.webhooks;
      expect(ci).toMatchObject({ last_status: 500, lag: 1, delivered: 0 });
      expect(ci.last_error).toMatch(/HTTP 500: receiver says no/);
    });
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKENS.read}` } })).text();
    expect(metrics).toMatch(/^webhook_deliveries_total\{webhook="ci",outcome="failed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^webhook_lag_events\{webhook="ci"\} 1$/m);
  });

  it("sends a signed test event on request, and answers 404 for an unknown name", async () => {
    const { receiver, server } = await setup();
    const res = await server.api("POST", "/webhooks/ci/test");
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: "ci", ok: true, status: 200, error: null });
    const got = receiver.requests.find((r) => r.json.type === "webhook.test")!;
    expect(got.headers["x-coord-event"]).toBe("webhook.test");
    expect(got.headers["x-coord-signature-256"]).toBe(signBody(got.body, "top-secret-value"));
    const missing = await server.api("POST", "/webhooks/nope/test");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ success: false, code: "NOT_FOUND" });
  });

  it("a hanging receiver does not slow claims or heartbeats", async () => {
    const { receiver, server } = await setup();
    receiver.answer(() => "hang");
    await eventually(async () => expect((await server.api("GET", "/webhooks")).body.data.webhooks.every((w: any) => w.lease_owner)).toBe(true));
    const reg = (await server.api("POST", "/register", { token: TOKENS.node, body: { node_id: "n1", capacity: { max_workers: 100 } } })).body.data.registration_id;
    // Both webhooks now hold a request open that will not be answered for 10 s.
    await createTask(server, {});
    await eventually(() => expect(receiver.requests).toHaveLength(2));
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      await createTask(server, { description: `t${i}` });
      const t0 = performance.now();
      const claim = await server.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: reg, worker_name: `w${i}` } });
      const beat = await server.api("POST", "/heartbeat", { token: TOKENS.node, body: { registration_id: reg } });
      latencies.push(performance.now() - t0);
      expect([claim.status, beat.status]).toEqual([200, 200]);
    }
    // Still hanging: nothing more was sent (one request in flight per webhook), yet each claim + heartbeat was quick.
    expect(receiver.requests).toHaveLength(2);
    expect(Math.max(...latencies)).toBeLessThan(1000);
  });

  it("is for admins only", async () => {
    const { server } = await setup();
    expect((await server.api("GET", "/webhooks", { token: TOKENS.read })).status).toBe(403);
    expect((await server.api("POST", "/webhooks/ci/test", { token: TOKENS.node })).status).toBe(403);
    expect((await server.api("GET", "/webhooks", { token: null })).status).toBe(401);
  });
});
