import type { RedisKeys } from "./redis-keys.js";
import { rc, type ScriptedRedis } from "./redis-reads.js";
import type { Store } from "./types.js";

/**
 * The data layout this build writes; kept under `<prefix>layout`. 2: retention indexes. 3:
 * claimable keyed tasks in pending buckets of their concurrency group. 4: a group's tasks in a
 * sorted set of their own, its head in the bucket of its (repo, labels) (see bucketOf).
 */
export const REDIS_LAYOUT = 4;
const CHUNK = 100;

/**
 * Brings data written by an older build up to REDIS_LAYOUT. Layout 2 added the retention
 * indexes (finished tasks, acked messages, idle nodes) to the records' footprints: every record
 * that belongs in one is written again, unchanged, through an ordinary transaction, so its
 * footprint (and with it the index) is recomputed; layouts 3 and 4 rewrite the claimable keyed
 * tasks alike. Replicas starting at once may both do it;
 * the rewrites are idempotent.
 */
export async function upgradeRedisLayout(client: ScriptedRedis, k: RedisKeys, store: Store): Promise<void> {
  const key = `${k.prefix}layout`;
  const current = Number((await rc(client.get(key))) ?? 0);
  // A fresh deployment has nothing to upgrade.
  const empty = (await rc(client.scard(k.nodes))) === 0 && (await rc(client.zcard(k.tasks))) === 0 && (await rc(client.zcard(k.messages))) === 0;
  const ids = async (index: string, after: string) => rc(client.zrangebylex(index, after ? `(${after}` : "-", "+", "LIMIT", 0, CHUNK));
  /** Rewrites the records of an index, CHUNK ids a transaction, through `put`. */
  const rewrite = async (index: string, put: (ids: string[]) => Promise<void>) => {
    for (let after = ""; ; ) {
      const batch = await ids(index, after);
      if (batch.length > 0) await put(batch);
      if (batch.length < CHUNK) return;
      after = batch[batch.length - 1]!;
    }
  };
  if (current < 2 && !empty) {
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
  if (current < 4 && !empty) {
    // Claimable keyed tasks move from the bucket of their (repo, labels) (layout ≤ 2) or of
    // their group (layout 3) to their group's set, its head in the bucket. Claims stay within
    // the limits meanwhile (and beside replicas of older builds, which still write the old
    // forms): a group bucket listed in pbuckets is left out while full after one SCARD, and a
    // keyed task in a bucket itself is checked by its record, a full key's passed over without
    // counting toward the lookahead (so they hide nothing behind them).
    for (const status of ["pending", "orphaned"] as const) {
      await rewrite(k.tasksByStatus(status), (batch) =>
        store.transact(async (tx) => {
          for (const t of await Promise.all(batch.map((id) => tx.getTask(id)))) if (t?.concurrency_key && t.status === status) tx.putTask(t);
        }),
      );
    }
  }
  if (current < REDIS_LAYOUT) await rc(client.set(key, String(REDIS_LAYOUT)));
}
