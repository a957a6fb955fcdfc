// A bare fastify 5 app with one route that answers the heartbeat's JSON envelope: no hooks, no
// schemas, no logger. The coordinator is built on fastify, so this is the ceiling of what any
// route of it can reach (fastify's own routing, body parsing and reply), beside the bare
// node:http server of bare-server.mjs. Its own process, like the coordinator; prints its port.
import Fastify from "fastify";

const app = Fastify({ logger: false });
const answer = { success: true, data: { status: "online", health: "healthy", pending_messages: 0, cancelled_task_ids: [] } };
app.post("/api/v1/heartbeat", async () => answer);
await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`${app.server.address().port}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
