import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

describe("GET /metrics", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  const scrape = async (token: string | null = TOKENS.read) => {
    const res = await fetch(`${server.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
  };

  it("serves Prometheus text with node and task counts, request counters and the last event id", async () => {
    await registerNode(server, "machine-b");
    await createTask(server, {});
    await createTask(server, {});
    const m = await scrape();
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    expect(m.text).toMatch(/^mcc_tasks\{status="pending"\} 2$/m);
    expect(m.text).toMatch(/^mcc_nodes\{status="online"\} 1$/m);
    expect(m.text).toMatch(/^mcc_last_event_id 3$/m);
    expect(m.text).toMatch(/^mcc_http_requests_total\{method="POST",route="\/api\/v1\/tasks",status="201"\} 2$/m);
    expect(m.text).toMatch(/^mcc_http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/api\/v1\/register"\} \d+$/m);
  });

  it("counts the long polls waiting on this replica", async () => {
    const reg = await registerNode(server, "waiting-node");
    expect((await scrape()).text).toMatch(/^mcc_long_polls 0$/m);
    const poll = server.api("POST", "/tasks/claim", { token: TOKENS.node, body: { registration_id: reg, worker_name: "w", repo: "nothing-here", wait_seconds: 20 } });
    const pending = server.api("GET", "/tasks/pending?repo=nothing-here&wait_seconds=20", { token: TOKENS.read });
    for (let i = 0; i < 500 && server.coordinator.longPolls < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await scrape()).text).toMatch(/^mcc_long_polls 2$/m);
    await createTask(server, { repo: "nothing-here" });
    expect((await poll).status).toBe(200);
    expect((await pending).status).toBe(200);
    expect((await scrape()).text).toMatch(/^mcc_long_polls 0$/m);
  });

  it("needs a read token, like the rest of the API", async () => {
    const m = await scrape(null);
    expect(m.status).toBe(401);
    expect(JSON.parse(m.text)).toMatchObject({ success: false, code: "UNAUTHORIZED" });
  });
});
