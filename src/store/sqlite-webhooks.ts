import type { Database } from "better-sqlite3";
import type { WebhookCursorStore } from "./types.js";
import { cursorFrom, cursorJson } from "./webhook-cursors.js";

/**
 * Webhook cursors in the SQLite file. better-sqlite3 is synchronous and the store's group
 * commits never leave a transaction open across an await, so each statement here is atomic
 * on its own; the version in the WHERE clause makes a write a compare-and-set.
 */
export function createSqliteWebhookCursors(db: Database, check: () => void): WebhookCursorStore {
  const get = db.prepare("SELECT version, json FROM webhook_cursors WHERE name = ?");
  const insert = db.prepare("INSERT INTO webhook_cursors (name, version, json) VALUES (?, 1, ?) ON CONFLICT (name) DO NOTHING");
  const update = db.prepare("UPDATE webhook_cursors SET version = version + 1, json = ? WHERE name = ? AND version = ?");
  const remove = db.prepare("DELETE FROM webhook_cursors WHERE name = ? AND version = ?");
  return {
    async getWebhookCursor(name) {
      check();
      const row = get.get(name) as { version: number; json: string } | undefined;
      return row && cursorFrom(name, row.version, row.json);
    },
    async putWebhookCursor(cursor, expectVersion) {
      check();
      const json = cursorJson(cursor);
      const changes = expectVersion === 0 ? insert.run(cursor.name, json).changes : update.run(json, cursor.name, expectVersion).changes;
      return changes === 1 ? { ...cursor, version: expectVersion + 1 } : undefined;
    },
    async deleteWebhookCursor(name, expectVersion) {
      check();
      return remove.run(name, expectVersion).changes === 1;
    },
  };
}
