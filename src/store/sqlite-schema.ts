import type { Database } from "better-sqlite3";
import { CoordError } from "../core/errors.js";

/** SQL for an ISO time (an expression) as milliseconds since the epoch. */
function isoToMs(expr: string): string {
  return `CAST(ROUND((julianday(${expr}) - 2440587.5) * 86400000) AS INTEGER)`;
}

/**
 * The SQLite schema, one migration per version. `PRAGMA user_version` records how many have run;
 * a database is migrated forward when opened. Never edit a shipped migration: append a new one.
 *
 * Records are kept whole as JSON; the columns beside them exist only to be indexed.
 */
const MIGRATIONS: string[] = [
  // 1: initial schema.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  -- The last event id ever given: kept apart from the events table so that trimming the log
  -- never lets an id be handed out twice.
  INSERT INTO meta (key, value) VALUES ('last_event_id', 0);

  CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    registration_id TEXT UNIQUE,
    status TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX nodes_by_heartbeat ON nodes (status, last_seen_ms);

  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    status TEXT NOT NULL,
    rank INTEGER NOT NULL,
    label_sig TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    lease_ms INTEGER,
    json TEXT NOT NULL
  );
  -- Claim order inside one (repo, label requirements) bucket: priority rank, then oldest id.
  CREATE INDEX tasks_pending ON tasks (repo, label_sig, rank, id) WHERE status IN ('pending', 'orphaned');
  CREATE INDEX tasks_leases ON tasks (lease_ms) WHERE status = 'claimed';
  CREATE INDEX tasks_by_status ON tasks (status, id);
  CREATE INDEX tasks_by_repo ON tasks (repo, id);

  -- The non-empty pending buckets, so a claim looks only at buckets whose requirements fit.
  CREATE TABLE pending_buckets (
    repo TEXT NOT NULL,
    label_sig TEXT NOT NULL,
    labels TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (repo, label_sig)
  );

  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    to_node TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    status TEXT NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX messages_by_recipient ON messages (to_node, status, id);
  CREATE INDEX messages_by_address ON messages (to_addr, id);

  CREATE TABLE repos (name TEXT PRIMARY KEY, json TEXT NOT NULL);

  CREATE TABLE events (id INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL);
  `,
  // 2: the event log is bounded by size too (events.max_bytes): each event's size, and their sum.
  `
  ALTER TABLE events ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
  UPDATE events SET size = length(CAST(data AS BLOB)) + length(type) + length(id) + 25;
  INSERT INTO meta (key, value) VALUES ('event_bytes', (SELECT COALESCE(SUM(size), 0) FROM events));
  `,
  // 3: retention. When a task finished and a message was acked (ms), indexed for the sweeper;
  // nodes are found by the existing (status, last_seen_ms) index.
  `
  ALTER TABLE tasks ADD COLUMN done_ms INTEGER;
  UPDATE tasks SET done_ms = ${isoToMs("json_extract(json, '$.completed_at')")}
    WHERE status IN ('completed', 'failed', 'cancelled');
  CREATE INDEX tasks_done ON tasks (done_ms) WHERE status IN ('completed', 'failed', 'cancelled');
  ALTER TABLE messages ADD COLUMN acked_ms INTEGER;
  UPDATE messages SET acked_ms = ${isoToMs("json_extract(json, '$.acked_at')")} WHERE status = 'acked';
  CREATE INDEX messages_acked ON messages (acked_ms) WHERE status = 'acked';
  `,
  // 4: webhooks (DESIGN §12): each webhook's position and delivery lease, compare-and-set by version.
  `
  CREATE TABLE webhook_cursors (name TEXT PRIMARY KEY, version INTEGER NOT NULL, json TEXT NOT NULL);
  `,
  // 5: tasks waiting for their not_before (DESIGN §11), found by the sweeper; lease_ms holds it.
  `
  CREATE INDEX tasks_waiting ON tasks (lease_ms) WHERE status = 'waiting';
  `,
  // 6: task dependencies (DESIGN §11): dependency → the waiting tasks it blocks (their blocked_by).
  `
  CREATE TABLE task_deps (dep_id TEXT NOT NULL, task_id TEXT NOT NULL, PRIMARY KEY (dep_id, task_id)) WITHOUT ROWID;
  CREATE INDEX task_deps_by_task ON task_deps (task_id);
  `,
  // 7: dashboard sessions (DESIGN §13), by the hash of their cookie; bounded per token and in all.
  `
  CREATE TABLE sessions (id TEXT PRIMARY KEY, token_key TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, json TEXT NOT NULL);
  CREATE INDEX sessions_by_token ON sessions (token_key, created_ms);
  CREATE INDEX sessions_by_expiry ON sessions (expires_ms);
  `,
  // 8: claimed tasks by concurrency key (DESIGN §11), counted inside every claim of a keyed task.
  // An index on the JSON field, so the writer keeps no column of its own for it.
  `
  CREATE INDEX tasks_claimed_by_key ON tasks (json_extract(json, '$.concurrency_key')) WHERE status = 'claimed';
  `,
];

/** The schema version this build writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database up to SCHEMA_VERSION; each migration runs in its own transaction. */
export function migrate(db: Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new CoordError(
      "UNAVAILABLE",
      `store ${db.name} has schema version ${current}, newer than this build knows (${SCHEMA_VERSION}); upgrade multiclaude-coord`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
