import { createApi } from "../lib/api.mjs";
import { startSentinels } from "../lib/sentinel.mjs";
import { sleep } from "../lib/stats.mjs";

/**
 * Sentinel failover: a coordinator on a `redis+sentinel://` URL (primary, replica, three
 * sentinels, down after 1 s), a creator (about 100 tasks/s) and 8 claimers that complete what
 * they claim; the primary is SIGKILLed and the time is taken from the kill to the first
 * successful claim and create after it. `start(url)` starts the coordinator.
 */
export async function sentinelFailover(start, { runs = 1 } = {}) {
  const out = [];
  for (let run = 0; run < runs; run++) {
    const deployment = await startSentinels();
    const coordinator = await start(deployment.url);
    const api = createApi(coordinator.url, 16);
    let stopping = false;
    let killedAt = Infinity;
    let firstClaim = 0;
    let firstCreate = 0;
    let errors = 0;
    const attempt = async (fn) => {
      try {
        return await fn();
      } catch {
        errors++;
        await sleep(20);
        return undefined;
      }
    };
    try {
      const reg = (await api.call("POST", "/register", { node_id: "failover-node", capacity: { max_workers: 8 } })).registration_id;
      const creator = (async () => {
        for (let n = 0; !stopping; n++) {
          const task = await attempt(() => api.call("POST", "/tasks", { repo: "r", description: `t${n}`, idempotency_key: `k${run}-${n}` }));
          if (task && Date.now() > killedAt && !firstCreate) firstCreate = Date.now();
          await sleep(10);
        }
      })();
      const claimers = Array.from({ length: 8 }, (_, w) =>
        (async () => {
          while (!stopping) {
            const got = await attempt(() => api.call("POST", "/tasks/claim", { registration_id: reg, worker_name: `w${w}`, wait_seconds: 1 }));
            if (!got?.task) continue;
            if (Date.now() > killedAt && !firstClaim) firstClaim = Date.now();
            await attempt(() => api.call("POST", `/tasks/${got.task.id}/complete`, { registration_id: reg }));
          }
        })(),
      );
      await sleep(2000);
      errors = 0;
      killedAt = Date.now();
      await deployment.primary.kill();
      for (const deadline = Date.now() + 60_000; !(firstClaim && firstCreate) && Date.now() < deadline; ) await sleep(20);
      stopping = true;
      await Promise.all([creator, ...claimers]);
      out.push({ claim_ms: firstClaim ? firstClaim - killedAt : NaN, create_ms: firstCreate ? firstCreate - killedAt : NaN, failed_requests: errors });
    } finally {
      stopping = true;
      await api.close();
      await coordinator.stop();
      await deployment.stop();
    }
  }
  return out;
}
