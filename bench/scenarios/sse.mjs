import { request } from "node:http";
import { performance } from "node:perf_hooks";
import { createApi } from "../lib/api.mjs";
import { TOKEN } from "../lib/processes.mjs";
import { sleep, summarize } from "../lib/stats.mjs";

/**
 * One subscriber. Every subscriber counts the events it gets; a few ("measuring") also parse
 * each frame to take the delivery delay, so the load generator stays lighter than the server.
 */
function subscribe(url, { measuring, sentAt, delays }) {
  return new Promise((resolve, reject) => {
    const sub = { count: 0, lastId: 0, ok: true, close: () => {} };
    const req = request(`${url}/api/v1/events/stream?types=task.created`, { headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        const now = performance.now();
        const text = tail + chunk;
        const end = text.lastIndexOf("\n\n");
        tail = end >= 0 ? text.slice(end + 2) : text;
        const complete = end >= 0 ? text.slice(0, end) : "";
        let at = complete.indexOf("id: ");
        while (at >= 0) {
          const nl = complete.indexOf("\n", at);
          const id = Number(complete.slice(at + 4, nl));
          if (id !== sub.lastId + 1 && sub.lastId !== 0) sub.ok = false;
          sub.lastId = id;
          sub.count++;
          if (measuring) {
            const m = /"description":"sse (\d+)"/.exec(complete.slice(nl, complete.indexOf("\n", nl + 1)));
            if (m) delays.push(now - sentAt[Number(m[1])]);
          }
          at = complete.indexOf("id: ", nl);
        }
      });
      sub.close = () => req.destroy();
      resolve(sub);
    });
    req.on("error", (err) => (sub.count ? undefined : reject(err)));
    req.end();
  });
}

/** Scenario 5: 1,000 subscribers, 1,000 events/s; every event to every subscriber; p99 delivery delay. */
export async function sseFanout(coordinator, { subscribers = 1000, rate = 1000, seconds = 5, measuring = 25 } = {}) {
  const api = createApi(coordinator.url, 32);
  const sentAt = [];
  const delays = [];
  const subs = [];
  for (let i = 0; i < subscribers; i += 50) {
    subs.push(...(await Promise.all(Array.from({ length: Math.min(50, subscribers - i) }, (_, j) => subscribe(coordinator.url, { measuring: i + j < measuring, sentAt, delays })))));
  }
  await sleep(300);
  const total = rate * seconds;
  const start = performance.now();
  const creates = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt[i] = performance.now();
    creates.push(api.call("POST", "/tasks", { repo: "bench", description: `sse ${i}` }));
    if (creates.length >= 200) await Promise.all(creates.splice(0));
  }
  await Promise.all(creates);
  const deadline = performance.now() + 10_000;
  while (subs.some((s) => s.count < total) && performance.now() < deadline) await sleep(100);
  const complete = subs.filter((s) => s.count === total && s.ok).length;
  for (const s of subs) s.close();
  await api.close();
  return { subscribers, rate, events: total, complete_subscribers: complete, ...summarize(delays), achieved_rate: Math.round(total / ((sentAt[total - 1] - start) / 1000)) };
}
