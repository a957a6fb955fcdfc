/**
 * Labels are requirements: a node sees and claims only tasks whose every label it carries;
 * a task without labels fits everyone.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTask, registerNode, startTestServer, TOKENS, type TestServer } from "../helpers/test-server.js";
import { claim, claimNext, expectError, getTask, okData } from "../helpers/api-fixtures.js";

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

async function pending(query: string): Promise<string[]> {
  const data = okData(await server.api("GET", `/tasks/pending${query}`, { token: TOKENS.read }));
  return (data.tasks as any[]).map((t) => t.description);
}

describe("label requirements", () => {
  it("a pool:cpu node never sees, claims by id, or is handed a pool:gpu task", async () => {
    const cpu = await registerNode(server, "cpu-node", { labels: { pool: "cpu" }, maxWorkers: 10 });
    const gpuTask = await createTask(server, { description: "gpu work", labels: { pool: "gpu" }, priority: "critical" });

    expect(await pending("?labels=pool:cpu")).toEqual([]);
    expectError(await claim(server, gpuTask.id, cpu), 409, "LABELS_NOT_SATISFIED");
    expect(okData(await claimNext(server, cpu))).toEqual({ task: null });
    expect(okData(await claimNext(server, cpu, { wait_seconds: 0.2 }))).toEqual({ task: null });

    // With work it can do queued behind the (higher-priority) gpu task, it gets only its own.
    await createTask(server, { description: "cpu work", labels: { pool: "cpu" }, priority: "low" });
    expect(await pending("?labels=pool:cpu")).toEqual(["cpu work"]);
    expect(okData(await claimNext(server, cpu)).task.description).toBe("cpu work");
    expect(okData(await claimNext(server, cpu))).toEqual({ task: null });
    expect((await getTask(server, gpuTask.id)).status).toBe("pending");

    // ...and a gpu node takes the gpu task.
    const gpu = await registerNode(server, "gpu-node", { labels: { pool: "gpu" } });
    expect(await pending("?labels=pool:gpu")).toEqual(["gpu work"]);
    expect(okData(await claimNext(server, gpu)).task.id).toBe(gpuTask.id);
  });

  it("unlabelled tasks fit every node, labelled or not", async () => {
    await createTask(server, { description: "anyone" });
    expect(await pending("?labels=pool:cpu")).toEqual(["anyone"]);
    expect(await pending("?labels=pool:gpu,region:eu")).toEqual(["anyone"]);
    expect(await pending("?labels=")).toEqual(["anyone"]);
    expect(await pending("")).toEqual(["anyone"]);

    const bare = await registerNode(server, "bare-node");
    const t2 = await createTask(server, { description: "anyone 2" });
    okData(await claim(server, t2.id, bare));
    const labelled = await registerNode(server, "labelled", { labels: { pool: "gpu", region: "eu" } });
    expect(okData(await claimNext(server, labelled)).task.description).toBe("anyone");
  });

  it("a node without labels sees only unlabelled tasks", async () => {
    await createTask(server, { description: "gpu", labels: { pool: "gpu" } });
    await createTask(server, { description: "free" });
    expect(await pending("?labels=")).toEqual(["free"]);
    const bare = await registerNode(server, "bare-node");
    expect(okData(await claimNext(server, bare)).task.description).toBe("free");
    expect(okData(await claimNext(server, bare))).toEqual({ task: null });
  });

  it("multi-label requirements need every pair; extra node labels do not matter", async () => {
    const task = await createTask(server, { description: "gpu in us", labels: { pool: "gpu", region: "us" } });

    expect(await pending("?labels=pool:gpu")).toEqual([]);
    expect(await pending("?labels=region:us")).toEqual([]);
    expect(await pending("?labels=pool:gpu,region:eu")).toEqual([]);
    expect(await pending("?labels=pool:gpu,region:us")).toEqual(["gpu in us"]);
    expect(await pending("?labels=region:us,pool:gpu,disk:ssd")).toEqual(["gpu in us"]);

    const onlyGpu = await registerNode(server, "only-gpu", { labels: { pool: "gpu" } });
    const wrongRegion = await registerNode(server, "eu-gpu", { labels: { pool: "gpu", region: "eu" } });
    expect(expectError(await claim(server, task.id, onlyGpu), 409, "LABELS_NOT_SATISFIED").missing).toEqual({ region: "us" });
    expect(expectError(await claim(server, task.id, wrongRegion), 409, "LABELS_NOT_SATISFIED").missing).toEqual({ region: "us" });
    expect(okData(await claimNext(server, onlyGpu))).toEqual({ task: null });
    expect(okData(await claimNext(server, wrongRegion))).toEqual({ task: null });

    const fits = await registerNode(server, "us-gpu-ssd", { labels: { pool: "gpu", region: "us", disk: "ssd" } });
    expect(okData(await claim(server, task.id, fits)).claimed_by).toBe("worker-1@us-gpu-ssd");
  });

  it("label values must match exactly (no prefix or case folding)", async () => {
    await createTask(server, { description: "gpu", labels: { pool: "gpu" } });
    expect(await pending("?labels=pool:GPU")).toEqual([]);
    expect(await pending("?labels=pool:gp")).toEqual([]);
    expect(await pending("?labels=Pool:gpu")).toEqual([]);
    expect(await pending("?labels=pool:gpu")).toEqual(["gpu"]);
  });

  it("re-registering with other labels changes what the node may claim", async () => {
    const task = await createTask(server, { labels: { pool: "gpu" } });
    const reg1 = await registerNode(server, "switcher", { labels: { pool: "cpu" } });
    expectError(await claim(server, task.id, reg1), 409, "LABELS_NOT_SATISFIED");
    const reg2 = await registerNode(server, "switcher", { labels: { pool: "gpu" } });
    okData(await claim(server, task.id, reg2));
  });

  it("GET /nodes?label= lists the nodes carrying those labels", async () => {
    await registerNode(server, "a", { labels: { pool: "gpu", region: "us" } });
    await registerNode(server, "b", { labels: { pool: "gpu", region: "eu" } });
    await registerNode(server, "c", { labels: { pool: "cpu" } });
    const ids = async (q: string) => (okData(await server.api("GET", `/nodes${q}`, { token: TOKENS.read })).nodes as any[]).map((n) => n.id);
    expect(await ids("?label=pool:gpu")).toEqual(["a", "b"]);
    expect(await ids("?label=pool:gpu,region:eu")).toEqual(["b"]);
    expect(await ids("?label=pool:tpu")).toEqual([]);
  });
});
