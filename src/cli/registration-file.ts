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

export function registrationFile(env: NodeJS.ProcessEnv): string {
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

/**
 * Remembers this machine's registration between CLI runs (`register`, then `tasks claim` ...
 * in later processes). Written atomically, mode 0600: the registration id acts as the node's session.
 */
export class RegistrationStore {
  readonly path: string;

  constructor(env: NodeJS.ProcessEnv) {
    this.path = registrationFile(env);
  }

  get(url: string): SavedRegistration | undefined {
    return readFile(this.path).registrations[url];
  }

  save(reg: SavedRegistration): void {
    const data = readFile(this.path);
    data.registrations[reg.url] = reg;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }

  remove(url: string): void {
    const data = readFile(this.path);
    if (!data.registrations[url]) return;
    delete data.registrations[url];
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
