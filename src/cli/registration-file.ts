import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { RegisterRequest } from "../client/types.js";
import { multiclaudeHome } from "../config/paths.js";

/** One saved registration: what `register` sent and what it got back. */
export interface SavedRegistration {
  url: string;
  node_id: string;
  registration_id: string;
  request: RegisterRequest;
  registered_at: string;
}

interface FileShape {
  /** Keyed by coordinator URL, so switching coordinators never mixes registrations. */
  registrations: Record<string, SavedRegistration>;
}

/** Where the saved registrations live: `~/.multiclaude/coordination-registration.json`. */
export function registrationFilePath(env: NodeJS.ProcessEnv): string {
  return join(multiclaudeHome(env), "coordination-registration.json");
}

function readFile(path: string): FileShape {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<FileShape>;
    return { registrations: parsed.registrations ?? {} };
  } catch {
    // Missing or unreadable: behave as "not registered"; `register` rewrites it.
    return { registrations: {} };
  }
}

export interface RegistrationFileOptions {
  /** The environment whose HOME holds `.multiclaude/`. */
  env: NodeJS.ProcessEnv;
}

/**
 * This machine's saved registrations (`register`, then `tasks claim` ... in later processes).
 * Written atomically, mode 0600: the registration id acts as the node's session.
 */
export interface RegistrationFile {
  readonly path: string;
  get(url: string): SavedRegistration | undefined;
  save(reg: SavedRegistration): void;
  remove(url: string): void;
}

function writeAtomically(path: string, data: FileShape): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function createRegistrationFile(options: RegistrationFileOptions): RegistrationFile {
  const path = registrationFilePath(options.env);
  return {
    path,
    get: (url) => readFile(path).registrations[url],
    save(reg) {
      const data = readFile(path);
      data.registrations[reg.url] = reg;
      writeAtomically(path, data);
    },
    remove(url) {
      const data = readFile(path);
      if (!data.registrations[url]) return;
      delete data.registrations[url];
      writeAtomically(path, data);
    },
  };
}
