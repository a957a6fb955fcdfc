import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { createApi, registerNodes } from "../lib/api.mjs";
import { TOKEN } from "../lib/processes.mjs";

const BODY = (registration_id) =>
  JSON.stringify({
    registration_id,
    status: "healthy",
    agents: [{ name: "worker-1", type: "worker", status: "running", task: "Implement auth feature" }],
    metrics: { cpu_percent: 45.2, memory_percent: 62.1 },
  });

/** Requests per second of heartbeats for `regs` against `url`, with `connections` in flight. */
async function drive(url, regs, { connections, seconds }) {
  const api = createApi(url, connections);
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const bodies = regs.map(BODY);
  let done = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      let i = c;
      while (performance.now() < deadline) {
        const res = await api.pool.request({ method: "POST", path: "/api/v1/heartbeat", headers, body: bodies[i % bodies.length] });
        await res.body.dump();
        if (res.statusCode === 200) done++;
        else errors++;
        i += connections;
      }
    }),
  );
  await api.close();
  return { rps: Math.round(done / seconds), errors };
}

/** The bare server of lib/bare-server.mjs in its own process. */
async function bareServer() {
  const proc = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), "..", "lib", "bare-server.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => proc.stdout.once("data", (c) => resolve(Number(String(c).trim()))));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((r) => { proc.once("exit", r); proc.kill("SIGTERM"); }),
  };
}

/** Scenario 3: heartbeats of 10,000 registered nodes, beside a bare node:http server in the same run. */
export async function heartbeat(coordinator, { nodes = 10_000, seconds = 5, connections = 64 } = {}) {
  const api = createApi(coordinator.url, 64);
  const regs = await registerNodes(api, nodes, (i) => ({ node_id: `hb-${i}`, capacity: { max_workers: 2 } }));
  await api.close();
  await drive(coordinator.url, regs, { connections, seconds: 1 }); // warm-up
  const coord = await drive(coordinator.url, regs, { connections, seconds });
  const bare = await bareServer();
  await drive(bare.url, regs, { connections, seconds: 1 });
  const base = await drive(bare.url, regs, { connections, seconds });
  await bare.stop();
  return { nodes, coordinator_rps: coord.rps, bare_rps: base.rps, ratio: coord.rps / base.rps, errors: coord.errors };
}
