import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Task } from "../core/types.js";

/** One task this node holds, as written to disk. */
export interface LedgerEntry {
  task: Task;
  slot: string;
  localRepo: string;
  /** multiclaude's worker name, once known. */
  worker?: string;
  startedAt: number;
}

interface LedgerFile {
  node_id: string;
  tasks: LedgerEntry[];
}

export function ledgerPath(home: string, nodeId: string): string {
  return join(home, `coordination-agent-${nodeId}.json`);
}

export interface LedgerOptions {
  /** The file (see `ledgerPath`). */
  path: string;
  /** Entries of another node's file are ignored. */
  nodeId: string;
}

/**
 * The tasks this node holds and the workers running them, kept on disk so that an agent
 * that restarts (crash, SIGKILL, a second Ctrl-C) picks its running workers up again instead
 * of leaving their claims to heartbeats that would renew them forever.
 */
export interface Ledger {
  readonly path: string;
  /** Entries left by an earlier run of this node; empty when there is no (readable) file. */
  load(): LedgerEntry[];
  save(entries: LedgerEntry[]): void;
}

export function createLedger(options: LedgerOptions): Ledger {
  return new FileLedger(options.path, options.nodeId);
}

class FileLedger implements Ledger {
  constructor(
    readonly path: string,
    private readonly nodeId: string,
  ) {}

  load(): LedgerEntry[] {
    try {
      const data = JSON.parse(readFileSync(this.path, "utf8")) as Partial<LedgerFile>;
      if (data.node_id !== this.nodeId || !Array.isArray(data.tasks)) return [];
      return data.tasks.filter((e) => e && typeof e === "object" && e.task && typeof e.task.id === "string" && typeof e.localRepo === "string");
    } catch {
      return [];
    }
  }

  save(entries: LedgerEntry[]): void {
    if (entries.length === 0) {
      rmSync(this.path, { force: true });
      return;
    }
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ node_id: this.nodeId, tasks: entries } satisfies LedgerFile, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
