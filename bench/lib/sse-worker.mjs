// A worker thread holding a share of the SSE subscribers of scenario 5. Every subscriber counts
// frames on raw bytes (no decoding) and checks ids run without gaps; measuring subscribers also
// read each event's `ts` (the commit time) to take the delivery delay.
import { request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { url, token, count, measuring } = workerData;
const ID = Buffer.from("id: ");
const TS = Buffer.from('"ts":"');
const subs = [];
const delays = [];

function subscribe(measure) {
  return new Promise((resolve, reject) => {
    const sub = { count: 0, lastId: 0, gaps: 0 };
    const req = request(`${url}/api/v1/events/stream?types=task.created`, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      let carry = Buffer.alloc(0);
      res.on("data", (chunk) => {
        const now = Date.now();
        const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
        let at = buf.indexOf(ID);
        let consumed = 0;
        while (at >= 0) {
          const nl = buf.indexOf(10, at);
          const end = buf.indexOf("\n\n", at);
          if (nl < 0 || end < 0) break; // frame continues in the next chunk
          const id = Number(buf.toString("latin1", at + 4, nl));
          if (sub.lastId && id !== sub.lastId + 1) sub.gaps++;
          sub.lastId = id;
          sub.count++;
          if (measure) {
            const ts = buf.indexOf(TS, nl);
            if (ts >= 0 && ts < end) delays.push(now - Date.parse(buf.toString("latin1", ts + 6, ts + 30)));
          }
          consumed = end + 2;
          at = buf.indexOf(ID, consumed);
        }
        carry = buf.subarray(consumed);
      });
      sub.close = () => req.destroy();
      resolve(sub);
    });
    req.on("error", () => {});
    req.end();
  });
}

for (let i = 0; i < count; i += 50) {
  subs.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => subscribe(i + j < measuring)))));
}
parentPort.postMessage({ ready: true });
parentPort.on("message", (msg) => {
  if (msg === "report") parentPort.postMessage({ counts: subs.map((s) => s.count), gaps: subs.reduce((a, s) => a + s.gaps, 0), delays });
  if (msg === "close") {
    for (const s of subs) s.close();
    parentPort.close();
  }
});
