import type { SessionLimits, SessionRecord, SessionStore } from "./types.js";

/** Dashboard sessions in this process's memory (memory store). */
export function createMemorySessions(): SessionStore {
  const sessions = new Map<string, SessionRecord>();
  const dropExpired = (nowMs: number) => {
    for (const [id, s] of sessions) if (s.expires_ms <= nowMs) sessions.delete(id);
  };
  return {
    async createSession(session: SessionRecord, limits: SessionLimits, nowMs: number) {
      dropExpired(nowMs);
      // Insertion order is creation order, so the first ones found are the oldest.
      const ofToken = [...sessions.values()].filter((s) => s.token_key === session.token_key);
      for (const old of ofToken.slice(0, Math.max(0, ofToken.length - limits.perToken + 1))) sessions.delete(old.id);
      if (sessions.size >= limits.total) return false;
      sessions.set(session.id, { ...session });
      return true;
    },
    async getSession(id, nowMs) {
      const s = sessions.get(id);
      return s && s.expires_ms > nowMs ? { ...s } : undefined;
    },
    async deleteSession(id) {
      return sessions.delete(id);
    },
    async deleteSessionsExcept(tokenKeys) {
      const keep = new Set(tokenKeys);
      let n = 0;
      for (const [id, s] of sessions) if (!keep.has(s.token_key) && sessions.delete(id)) n++;
      return n;
    },
  };
}
