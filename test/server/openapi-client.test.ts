/**
 * DESIGN §14: a client generated from the served document (openapi-typescript + openapi-fetch)
 * type-checks and works: register, create, claim, complete, and a typed 409 on a second claim.
 * The types are generated here, from this build's document, so they are never stale.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";

const folder = join(dirname(fileURLToPath(import.meta.url)), "..", "openapi-client");
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as Parameters<typeof openapiTS>[0];
  writeFileSync(join(folder, "openapi.d.ts"), astToString(await openapiTS(doc)));
});
afterAll(() => server.close());

describe("a client generated from the OpenAPI document", () => {
  it("type-checks against the generated types", () => {
    const program = ts.createProgram([join(folder, "usage.ts")], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
      types: [],
      skipLibCheck: true,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(problems).toEqual([]);
  }, 60_000);

  it("registers, creates, claims and completes, and gets the second claim's 409 with its code", async () => {
    const { session } = await import("../openapi-client/usage.js");
    const result = await session(server.url, TOKENS.node);
    expect(result.claimedBy).toBe("worker-1@typed-node");
    expect(result.conflict).toEqual({ status: 409, code: "TASK_CLAIMED", claimedBy: "worker-1@typed-node" });
    expect(result.completedStatus).toBe("completed");
  });
});
