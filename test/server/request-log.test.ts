/**
 * The request log (`server.log_level`): one line per request at a level by its kind, each naming
 * its request id. Each request's child logger is made only when it writes (request-log.ts), so
 * these check that lines still come, with the request id, and that nothing comes at a level that
 * is off.
 */
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { heartbeat, okData } from "../helpers/api-fixtures.js";
import { registerNode, startTestServer, type TestServer } from "../helpers/test-server.js";

interface Line {
  level: number;
  reqId?: string;
  msg: string;
  status?: number;
}

function capture(): { lines: Line[]; stream: Writable } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, stream };
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("request log", () => {
  it("at info: a heartbeat and a read write nothing; a change (info) and a refusal (warn) write one line each, with their request ids", async () => {
    const { lines, stream } = capture();
    server = await startTestServer({ app: { logger: { level: "info", stream } } });
    const reg = await registerNode(server, "n1");
    const before = lines.length;
    okData(await heartbeat(server, reg, { status: "healthy" }));
    okData(await server.api("GET", "/nodes"));
    expect(lines.slice(before)).toEqual([]);

    okData(await server.api("POST", "/tasks", { body: { repo: "api", description: "t" } }), 201);
    expect((await server.api("GET", "/nodes", { token: "wrong" })).status).toBe(401);
    const written = lines.slice(before);
    expect(written.map((l) => [l.level, l.msg])).toEqual([
      [30, "POST /api/v1/tasks 201"],
      [40, "GET /api/v1/nodes 401"],
    ]);
    expect(written.every((l) => typeof l.reqId === "string" && l.reqId.length > 0)).toBe(true);
    expect(new Set(written.map((l) => l.reqId)).size).toBe(2);
  });

  it("at debug: every request writes its line", async () => {
    const { lines, stream } = capture();
    server = await startTestServer({ app: { logger: { level: "debug", stream } } });
    const reg = await registerNode(server, "n1");
    const before = lines.length;
    okData(await heartbeat(server, reg, { status: "healthy" }));
    expect(lines.slice(before).map((l) => [l.level, l.msg, typeof l.reqId])).toEqual([[20, "POST /api/v1/heartbeat 200", "string"]]);
  });

  it("at warn: a change writes nothing, a refusal writes its line", async () => {
    const { lines, stream } = capture();
    server = await startTestServer({ app: { logger: { level: "warn", stream } } });
    okData(await server.api("POST", "/tasks", { body: { repo: "api", description: "t" } }), 201);
    expect(lines).toEqual([]);
    expect((await server.api("POST", "/tasks", { body: { repo: "api" } })).status).toBe(400);
    expect(lines.map((l) => l.msg)).toEqual(["POST /api/v1/tasks 400"]);
  });
});
