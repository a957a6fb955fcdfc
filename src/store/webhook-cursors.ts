import type { WebhookCursor, WebhookCursorStore } from "./types.js";

/** Webhook cursors in this process's memory (memory store). */
export function createMemoryWebhookCursors(): WebhookCursorStore {
  const cursors = new Map<string, WebhookCursor>();
  return {
    async getWebhookCursor(name) {
      return cursors.get(name);
    },
    async putWebhookCursor(cursor, expectVersion) {
      if ((cursors.get(cursor.name)?.version ?? 0) !== expectVersion) return undefined;
      const stored = { ...cursor, version: expectVersion + 1 };
      cursors.set(cursor.name, stored);
      return stored;
    },
    async deleteWebhookCursor(name, expectVersion) {
      if ((cursors.get(name)?.version ?? 0) !== expectVersion || expectVersion === 0) return false;
      return cursors.delete(name);
    },
  };
}

/** The stored form of a cursor: everything but name and version (kept beside it). */
export function cursorJson(cursor: Omit<WebhookCursor, "version">): string {
  const { name: _name, ...rest } = cursor;
  return JSON.stringify(rest);
}

/** A cursor from its stored parts. */
export function cursorFrom(name: string, version: number, json: string): WebhookCursor {
  return { ...(JSON.parse(json) as Omit<WebhookCursor, "name" | "version">), name, version };
}
