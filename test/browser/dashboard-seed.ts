import { TOKENS, registerNode, type TestServer } from "../helpers/test-server.js";

/** Text a page must show as text: a task description is whatever a node sent. */
export const HOSTILE = `<img src=x onerror="document.title='pwned'"> fix the <b>login</b> page`;

/** A small fleet with work in every state, so every view has something to show. */
export async function seed(server: TestServer): Promise<{ done: string; failed: string; pending: string; claimed: string }> {
  const api = server.api.bind(server);
  const gpu = await registerNode(server, "gpu-1", { labels: { pool: "gpu", region: "eu" }, maxWorkers: 4 });
  const cpu = await registerNode(server, "cpu-1", { labels: { pool: "cpu" }, maxWorkers: 2 });
  const node = { token: TOKENS.node };
  const create = async (body: Record<string, unknown>) => (await api("POST", "/tasks", { ...node, body: { repo: "web-app", ...body } })).body.data.id as string;
  const done = await create({ description: "Add a health check endpoint", priority: "high" });
  const failed = await create({ repo: "api-server", description: "Migrate the job queue" });
  const claimed = await create({ description: "Train the ranking model", labels: { pool: "gpu" }, priority: "critical" });
  const pending = await create({ description: HOSTILE, priority: "low" });
  await create({ repo: "api-server", description: "Write the changelog for 2.0", depends_on: [done] }).catch(() => undefined);
  await api("POST", `/tasks/${done}/claim`, { ...node, body: { registration_id: cpu, worker_name: "swift-fox" } });
  await api("POST", `/tasks/${done}/complete`, {
    ...node,
    body: { registration_id: cpu, pr: "https://github.com/example/web-app/pull/42", summary: "added /healthz" },
  });
  await api("POST", `/tasks/${failed}/claim`, { ...node, body: { registration_id: cpu, worker_name: "calm-owl" } });
  await api("POST", `/tasks/${failed}/fail`, { ...node, body: { registration_id: cpu, reason: "tests fail on main", retry: false } });
  await api("POST", `/tasks/${claimed}/claim`, { ...node, body: { registration_id: gpu, worker_name: "bold-hawk" } });
  await api("POST", "/heartbeat", {
    ...node,
    body: {
      registration_id: gpu,
      agents: [
        { name: "bold-hawk", type: "worker", status: "running", repo: "web-app", task_id: claimed },
        { name: "supervisor", type: "supervisor", status: "running", repo: "web-app" },
      ],
      repos: [{ name: "web-app", active_prs: 3 }],
      metrics: { cpu_percent: 71, memory_percent: 48 },
    },
  });
  await api("POST", "/heartbeat", {
    ...node,
    body: { registration_id: cpu, agents: [{ name: "merge-queue", type: "merge-queue", status: "idle", repo: "api-server" }], repos: [{ name: "api-server", active_prs: 1 }], metrics: { cpu_percent: 12, memory_percent: 30 } },
  });
  await api("POST", "/messages", { body: { from: "supervisor@gpu-1", to: "bold-hawk@gpu-1", body: "Rebase on main before the PR, please." } });
  await api("POST", "/messages", { body: { from: "supervisor@gpu-1", to: "merge-queue@cpu-1", body: "PR #42 is ready to merge." } });
  return { done, failed, pending, claimed };
}
