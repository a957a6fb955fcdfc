import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

describe("rate limits", () => {
  let server: TestServer;
  const limits = { enabled: true, requests_per_second: 50, burst: 100 };

  beforeAll(async () => {
    server = await startTestServer({ app: { rateLimit: limits } });
  });
  afterAll(() => server.close());

  it("a flood of 10,000 requests from one token gets 429s while another token keeps being served", async () => {
    const pool = new Pool(server.url, { connections: 16, pipelining: 1 });
    const statuses = new Map<number, number>();
    let retryAfter: string | undefined;
    let sample: any;
    let otherOk = 0;
    let otherLimited = 0;
    let flooding = true;

    // The other token asks now and then throughout the flood.
    const other = (async () => {
      while (flooding) {
        const res = await server.api("GET", "/status", { token: TOKENS.read });
        if (res.status === 200) otherOk++;
        else otherLimited++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const total = 10_000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const res = await pool.request({ method: "GET", path: "/api/v1/status", headers: { authorization: `Bearer ${TOKENS.admin}` } });
        const text = await res.body.text();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 429 && !sample) {
          sample = JSON.parse(text);
          retryAfter = res.headers["retry-after"] as string;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    flooding = false;
    await other;
    await pool.close();

    expect(statuses.get(429) ?? 0).toBeGreaterThan(5000);
    expect(statuses.get(200) ?? 0).toBeGreaterThanOrEqual(limits.burst);
    expect([...statuses.keys()].every((s) => s === 200 || s === 429)).toBe(true);
    expect(sample).toMatchObject({ success: false, code: "RATE_LIMITED", error: expect.any(String) });
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(otherOk).toBeGreaterThan(0);
    expect(otherLimited).toBe(0);
  });

  it("failed authentications from one address are cut off with 429 after a few", async () => {
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await server.api("GET", "/nodes", { token: `wrong-${i}` });
      codes.push(res.body.code);
    }
    expect(codes.slice(0, 20).every((c) => c === "UNAUTHORIZED")).toBe(true);
    expect(codes.slice(20).every((c) => c === "RATE_LIMITED")).toBe(true);
    // A good token from the same address (a NAT, a proxy) is not locked out by someone else's typos.
    expect((await server.api("GET", "/nodes", { token: TOKENS.read })).status).toBe(200);
  });

  it("/register is limited harder than other routes", async () => {
    const fresh = await startTestServer({ app: { rateLimit: { ...limits } } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 15; i++) {
        const res = await fresh.api("POST", "/register", { token: TOKENS.node, body: { node_id: `n${i}` } });
        codes.push(res.status);
      }
      expect(codes.filter((c) => c === 200).length).toBe(10);
      expect(codes.slice(10).every((c) => c === 429)).toBe(true);
      // Other routes of the same token are still served.
      expect((await fresh.api("GET", "/nodes", { token: TOKENS.node })).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });

  it("enabled: false turns limits off (benchmarks), and can be flipped at run time", async () => {
    const settings = { enabled: false, requests_per_second: 1, burst: 2 };
    const fresh = await startTestServer({ app: { rateLimit: settings } });
    try {
      for (let i = 0; i < 10; i++) expect((await fresh.api("GET", "/status")).status).toBe(200);
      settings.enabled = true;
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await fresh.api("GET", "/status")).status);
      expect(statuses).toContain(429);
    } finally {
      await fresh.close();
    }
  });
});
