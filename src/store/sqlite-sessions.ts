import type { Database } from "better-sqlite3";
import type { SessionRecord, SessionStore } from "./types.js";

/**
 * Dashboard sessions in the SQLite file (table `sessions`, schema version 7). A creation runs
 * in one SQLite transaction, so its bounds hold whatever runs beside it.
 */
export function createSqliteSessions(db: Database, check: () => void): SessionStore {
  const dropExpired = db.prepare("DELETE FROM sessions WHERE expires_ms <= ?");
  const countToken = db.prepare("SELECT count(*) FROM sessions WHERE token_key = ?").pluck();
  const dropOldest = db.prepare(
    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE token_key = ? ORDER BY created_ms, id LIMIT ?)",
  );
  const countAll = db.prepare("SELECT count(*) FROM sessions").pluck();
  const insert = db.prepare("INSERT INTO sessions (id, token_key, created_ms, expires_ms, json) VALUES (?, ?, ?, ?, ?)");
  const get = db.prepare("SELECT json FROM sessions WHERE id = ? AND expires_ms > ?").pluck();
  const remove = db.prepare("DELETE FROM sessions WHERE id = ?");
  const removeOthers = db.prepare("DELETE FROM sessions WHERE token_key NOT IN (SELECT value FROM json_each(?))");
  const create = db.transaction((s: SessionRecord, perToken: number, total: number, nowMs: number): boolean => {
    dropExpired.run(nowMs);
    const extra = (countToken.get(s.token_key) as number) - perToken + 1;
    if (extra > 0) dropOldest.run(s.token_key, extra);
    if ((countAll.get() as number) >= total) return false;
    insert.run(s.id, s.token_key, s.created_ms, s.expires_ms, JSON.stringify(s));
    return true;
  });
  return {
    async createSession(session, limits, nowMs) {
      check();
      return create.immediate(session, limits.perToken, limits.total, nowMs);
    },
    async getSession(id, nowMs) {
      check();
      const json = get.get(id, nowMs) as string | undefined;
      return json === undefined ? undefined : (JSON.parse(json) as SessionRecord);
    },
    async deleteSession(id) {
      check();
      return remove.run(id).changes === 1;
    },
    async deleteSessionsExcept(tokenKeys) {
      check();
      return removeOthers.run(JSON.stringify(tokenKeys)).changes;
    },
  };
}
