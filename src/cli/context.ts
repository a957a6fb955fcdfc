import { readFileSync } from "node:fs";
import { Client } from "../client/client.js";
import { loadConfig } from "../config/load.js";
import { resolveClientConfig, type TokenSource } from "../config/overrides.js";
import type { ClientConfig, Config } from "../config/types.js";
import { UserError } from "./errors.js";
import { Output, type OutputFormat, type OutputStream } from "./output/output.js";
import { createRegistrationFile, type RegistrationFile, type SavedRegistration } from "./registration-file.js";

/** The process around the CLI; tests hand in their own. */
export interface CliIO {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Where `tasks import -` reads; process.stdin unless given. */
  stdin?: AsyncIterable<Buffer | string>;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** The global flags every command accepts. */
export interface GlobalOptions {
  url?: string;
  token?: string;
  config?: string;
  json: boolean;
  /** `-o`; `json` also sets `json`. */
  format: OutputFormat;
  color: boolean;
  timeout?: number;
}

/**
 * What a command gets: parsed globals, the output module, lazily loaded config and client,
 * the saved registration, and a signal for Ctrl-C. Owns every resource it hands out and
 * releases them in `close()`.
 */
export class CommandContext {
  readonly out: Output;
  readonly registrations: RegistrationFile;
  private configPromise?: Promise<Config>;
  private clientInstance?: Client;
  /** Warnings already printed (a long run repeats the same request). */
  private readonly warned = new Set<string>();
  private interrupt?: { controller: AbortController; remove: () => void };

  constructor(
    readonly io: CliIO,
    readonly globals: GlobalOptions,
  ) {
    this.out = new Output({ stdout: io.stdout, stderr: io.stderr, json: globals.json, color: globals.color, env: io.env, format: globals.format });
    this.registrations = createRegistrationFile({ env: io.env });
  }

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  /** The config file (found as DESIGN section 6 says), loaded once. */
  config(): Promise<Config> {
    this.configPromise ??= loadConfig({ configPath: this.globals.config, cwd: this.io.cwd, env: this.io.env });
    return this.configPromise;
  }

  /** Client settings with flags > env > file > defaults applied. */
  async clientConfig(): Promise<ClientConfig & { token_source: TokenSource }> {
    return resolveClientConfig(await this.config(), { url: this.globals.url, token: this.globals.token, timeoutSeconds: this.globals.timeout }, this.io.env);
  }

  /**
   * The client for this run, carrying the saved registration of this machine (if any). `limits`
   * apply when it is first made (`__complete` asks with a short timeout and no retries).
   */
  async client(limits: { timeoutMs?: number; retries?: number } = {}): Promise<Client> {
    if (this.clientInstance) return this.clientInstance;
    const cc = await this.clientConfig();
    const key = registrationKey(cc.server_url);
    const saved = this.registrations.get(key);
    this.clientInstance = new Client({
      url: cc.server_url,
      token: cc.token,
      timeoutMs: limits.timeoutMs ?? cc.timeout_ms,
      ...(limits.retries !== undefined ? { retries: limits.retries } : {}),
      tls: readTls(cc),
      registration: saved ? { id: saved.registration_id, request: saved.request } : undefined,
      // A transparent re-registration must outlive this process: later commands use it too.
      onRegistered: ({ id, request }) => this.saveRegistration(key, id, request),
      // e.g. an older coordinator ignored a field this CLI sent: say so once, on stderr.
      onWarning: (warning) => {
        if (this.warned.has(warning)) return;
        this.warned.add(warning);
        this.out.warn(`coordinator: ${warning}`);
      },
    });
    return this.clientInstance;
  }

  /** The client, insisting that this machine registered with this coordinator. */
  async nodeClient(): Promise<Client> {
    const client = await this.client();
    if (!client.registrationId) {
      throw new UserError(`this machine is not registered with ${client.url}: run \`multiclaude-coord register\` first`);
    }
    return client;
  }

  saveRegistration(url: string, id: string, request: SavedRegistration["request"]): void {
    this.registrations.save({ url, node_id: request.node_id, registration_id: id, request, registered_at: new Date().toISOString() });
  }

  /** Aborted on the first SIGINT/SIGTERM; commands that run until interrupted use it. */
  interruptSignal(): AbortSignal {
    if (!this.interrupt) {
      const controller = new AbortController();
      const onSignal = () => {
        // The terminal echoed `^C` without a newline; end that line so the prompt (and
        // "shutting down") start on their own.
        if (this.io.stderr.isTTY) this.io.stderr.write("\n");
        controller.abort(new Error("interrupted"));
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const remove = () => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      };
      this.interrupt = { controller, remove };
    }
    return this.interrupt.controller.signal;
  }

  async close(): Promise<void> {
    this.interrupt?.remove();
    await this.clientInstance?.close().catch(() => {});
  }
}

/** Registrations are saved per coordinator origin (the same as `Client.url`). */
export function registrationKey(url: string): string {
  return new URL(url).origin;
}

function readTls(cc: ClientConfig): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  if (!cc.ca_file && !cc.cert_file && !cc.key_file) return undefined;
  const read = (file: string | undefined, key: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UserError(`coordination.${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { ca: read(cc.ca_file, "ca_file"), cert: read(cc.cert_file, "cert_file"), key: read(cc.key_file, "key_file") };
}
