import { createWriteStream, fchmodSync, mkdirSync, openSync, renameSync, statSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";

export interface AuditRecord {
  time: string;
  actor: string;
  role: string | null;
  address: string;
  action: string;
  target: string | null;
  status: number;
  outcome: "ok" | "error";
  code?: string;
  /** `POST /register` by an admin of a node another token owned: that token's name. */
  takeover_from?: string;
}

/** One line of the refusals file: the unauthenticated requests of one address in one minute. */
export interface RefusalRecord {
  /** Start of the minute. */
  time: string;
  address: string;
  outcome: "refused";
  count: number;
  first: string;
  last: string;
  /** How many got each status (401, 429, ...). */
  statuses: Record<string, number>;
  /** Up to a few of the distinct routes and unknown-token fingerprints seen, for forensics. */
  actions: string[];
  actors: string[];
}

export interface AuditLogOptions {
  file: string;
  /** Rotate past this size (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept: `FILE.1` … `FILE.N` (default 10, `server.audit.keep`). */
  keep?: number;
  /** Length of the window refusals are counted in (default one minute; tests shorten it). */
  refusalWindowMs?: number;
}

export interface AuditLog {
  write(record: AuditRecord | RefusalRecord): void;
  close(): Promise<void>;
}

export const DEFAULT_AUDIT_KEEP = 10;

/**
 * JSON-lines audit log. Writes go to a buffered stream, so a request never waits for the
 * disk; past `maxBytes` the file is renamed to `.1` (older ones shift) and a new one started.
 * Renaming an open file is safe on POSIX: the old stream finishes into the renamed file.
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const keep = options.keep ?? DEFAULT_AUDIT_KEEP;
  mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
  let size = 0;
  try {
    size = statSync(options.file).size;
  } catch {
    size = 0;
  }
  // Opened synchronously, so the file exists (and can be renamed) before the first write lands.
  // fchmod: the mode of open() is filtered by the umask, and an audit log is for its owner only.
  const open = () => {
    const fd = openSync(options.file, "a", 0o600);
    fchmodSync(fd, 0o600);
    return createWriteStream("", { fd });
  };
  let stream: WriteStream = open();
  // A full disk or a removed folder must not take the coordinator down; the error is reported once.
  let failed = false;
  const onError = (err: Error) => {
    if (!failed) process.stderr.write(`audit log: ${err.message}\n`);
    failed = true;
  };
  stream.on("error", onError);

  function rotate(): void {
    stream.end();
    try {
      for (let i = keep - 1; i >= 1; i--) {
        try {
          renameSync(`${options.file}.${i}`, `${options.file}.${i + 1}`);
        } catch {
          // that generation does not exist yet
        }
      }
      renameSync(options.file, `${options.file}.1`);
    } catch (err) {
      onError(err as Error);
    }
    stream = open();
    stream.on("error", onError);
    size = 0;
  }

  return {
    write(record) {
      const line = `${JSON.stringify(record)}\n`;
      if (size + line.length > maxBytes && size > 0) rotate();
      size += Buffer.byteLength(line);
      stream.write(line);
    },
    close() {
      return new Promise((resolve) => stream.end(resolve));
    },
  };
}
