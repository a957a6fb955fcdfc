import type { RedisKeys } from "./redis-keys.js";
import { rc, type ScriptedRedis } from "./redis-reads.js";
import type { Store } from "./types.js";

/** The data layout this build writes; kept under `<prefix>layout`. 2: retention indexes. */
export const REDIS_LAYOUT = 2;
const CHUNK = 100;

/**
 * Brings data written by an older build up to REDIS_LAYOUT. Layout 2 added the retention
 * indexes (finished tasks, acked messages, idle nodes) to the records' footprints: every record
 * that belongs in one is written again, unchanged, through an ordinary transaction, so its
 * footprint (and with it the index) is recomputed. Replicas starting at once may both do it;
 * the rewrites are idempotent.
 */
export async function upgradeRedisLayout(client: ScriptedRedis, k: RedisKeys, store: Store): Promise<void> {
  const key = `${k.prefix}layout`;
  const current = Number((await rc(client.get(key))) ?? 0);
  // A fresh deployment has nothing to upgrade.
  const empty = (await rc(client.scard(k.nodes))) === 0 && (await rc(client.zcard(k.tasks))) === 0 && (await rc(client.zcard(k.messages))) === 0;
  if (current < 2 && !empty) {
    const ids = async (index: string, after: string) => rc(client.zrangebylex(index, after ? `(${after}` : "-", "+", "LIMIT", 0, CHUNK));
    const rewrite = async (index: string, put: (ids: string[]) => Promise<void>) => {
      for (let after = ""; ; ) {
        const batch = await ids(index, after);
        if (batch.length > 0) await put(batch);
        if (batch.length < CHUNK) return;
        after = batch[batch.length - 1]!;
      }
    };
    for (const status of ["completed", "failed", "cancelled"] as const) {
      await rewrite(k.tasksByStatus(status), (batch) =>
        store.transact(async (tx) => {
          for (const t of await Promise.all(batch.map((id) => tx.getTask(id)))) if (t) tx.putTask(t);
        }),
      );
    }
    await rewrite(k.messages, (batch) =>
      store.transact(async (tx) => {
        for (const m of await Promise.all(batch.map((id) => tx.getMessage(id)))) if (m?.status === "acked") tx.putMessage(m);
      }),
    );
    for (const status of ["offline", "deregistered"] as const) {
      const members = (await rc(client.smembers(k.nodesByStatus(status)))).sort();
      for (let i = 0; i < members.length; i += CHUNK) {
        await store.transact(async (tx) => {
          for (const n of await Promise.all(members.slice(i, i + CHUNK).map((id) => tx.getNode(id)))) if (n) tx.putNode(n);
        });
      }
    }
  }
  if (current < REDIS_LAYOUT) await rc(client.set(key, String(REDIS_LAYOUT)));
}
