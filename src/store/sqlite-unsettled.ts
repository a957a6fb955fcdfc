import type { SqliteStatements } from "./sqlite-queries.js";

/**
 * The unsettled tasks (Store.unsettledTasks) of a SQLite file, in memory: found once at open
 * (one scan of task_deps), then kept by each commit, which re-checks the tasks it could have
 * changed: a task it wrote or removed, and the dependencies its writes took dependents from.
 * The store owns its file (locking_mode EXCLUSIVE), so nothing else changes it; a look then
 * costs nothing while no task is unsettled (the usual case) instead of a scan of task_deps.
 */
export function createUnsettledSet(q: SqliteStatements) {
  const ids = new Set(q.unsettled.all() as string[]);
  const isUnsettled = (id: string) => (q.unsettledOne.get(id, id) as number) === 1;
  return {
    /**
     * Within the commit's SQLite transaction, once its writes are made: whether each of `touched`
     * is unsettled now. Applied to the set by `apply` once the commit went through.
     */
    check(touched: Iterable<string>): [string, boolean][] {
      return [...touched].map((id) => [id, isUnsettled(id)]);
    },
    apply(checked: readonly [string, boolean][]): void {
      for (const [id, yes] of checked) {
        if (yes) ids.add(id);
        else ids.delete(id);
      }
    },
    list(limit: number): string[] {
      return [...ids].slice(0, limit);
    },
  };
}
