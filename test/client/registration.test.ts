import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/index.js";
import { createRegistration } from "../../src/client/registration.js";
import { NODE, startTestServer } from "./server.js";

let server: Awaited<ReturnType<typeof startTestServer>>;
let client: Client;

beforeAll(async () => {
  server = await startTestServer();
  client = new Client({ url: server.url, token: NODE });
});

afterAll(async () => {
  await client.close();
  await server.close();
});

describe("createRegistration", () => {
  it("node calls after the coordinator forgot the registration re-register once for all of them", async () => {
    const seen: string[] = [];
    const node = createRegistration({ transport: client.transport, onRegistered: (r) => seen.push(r.id) });
    expect(node.id).toBeUndefined();
    await expect(node.asNode(undefined, async (id) => id)).rejects.toThrow(/not registered/);
    const first = await node.register({ node_id: "shared" });
    await client.register({ node_id: "shared" }); // the daemon restarted elsewhere: `first` is stale
    const heartbeat = (id: string) => client.heartbeat({ registration_id: id });
    const results = await Promise.all(Array.from({ length: 5 }, () => node.asNode(undefined, heartbeat)));
    expect(results.every((r) => r.status === "online")).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(first.registration_id);
    expect(node.id).toBe(seen[1]);
    expect(await node.deregister()).toMatchObject({ node_id: "shared" });
    expect(node.id).toBeUndefined();
  });
});
