// A bare node:http server that reads a JSON body and answers the heartbeat's JSON envelope: the
// ceiling the coordinator's heartbeat throughput is compared with. Run as its own process, like
// the coordinator, so both get the same share of the machine. Prints its port on stdout.
import { createServer } from "node:http";

const answer = JSON.stringify({ success: true, data: { status: "online", health: "healthy", pending_messages: 0, cancelled_task_ids: [] } });
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    JSON.parse(body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(answer);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
