import type { Redis } from "ioredis";
import { CoordError } from "../core/errors.js";

/** How often the number of replicas the primary has is read again (ROLE). */
const REPLICAS_REFRESH_MS = 1000;

/**
 * After a commit that wrote: `WAIT n timeout`, so the write is on the primary's replicas before
 * anyone is told it happened, and a failover (Sentinel promoting a replica) cannot lose an
 * answered change. `n` is `wait_replicas`, or fewer when the primary has fewer replicas right
 * now (ROLE, read again every second and after a short wait): after a failover the new primary
 * may have none until the old one comes back as its replica, and writes go on meanwhile (no
 * failover can happen without a replica either). A replica that does not confirm within the
 * timeout: the change is applied on the primary but not known to survive, answered 503 with
 * `retry_safe: false` (like a commit whose answer was lost). Undefined for `wait_replicas=0`
 * (the default of plain redis://).
 */
export function createReplicaWait(client: Redis, opts: { waitReplicas: number; waitTimeoutMs: number }): (() => Promise<void>) | undefined {
  const { waitReplicas: wanted, waitTimeoutMs: timeout } = opts;
  if (wanted <= 0) return undefined;
  let known = { replicas: wanted, at: 0 };
  async function replicas(fresh: boolean): Promise<number> {
    if (!fresh && Date.now() - known.at < REPLICAS_REFRESH_MS) return known.replicas;
    const role = (await client.call("ROLE")) as [string, number, unknown[]?];
    known = { replicas: role[0] === "master" ? (role[2]?.length ?? 0) : wanted, at: Date.now() };
    return known.replicas;
  }
  return async () => {
    try {
      const n = Math.min(wanted, await replicas(false));
      if (n === 0) return;
      const acked = await client.wait(n, timeout);
      if (acked >= n) return;
      const now = Math.min(wanted, await replicas(true));
      if (acked >= now) return;
      throw new CoordError(
        "UNAVAILABLE",
        `redis: the change was written on the primary but only ${acked} of ${now} replicas confirmed it within ${timeout} ms; check before retrying`,
        { retry_safe: false, replicas_acked: acked, replicas_wanted: now },
      );
    } catch (err) {
      if (err instanceof CoordError) throw err;
      // Not a lost commit to run again (it was applied): no `cause`, so it is not taken for one.
      throw new CoordError("UNAVAILABLE", `redis: the change was written on the primary but the wait for its replicas failed (${(err as Error)?.message}); check before retrying`, {
        retry_safe: false,
      });
    }
  };
}
