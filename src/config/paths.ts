import { homedir } from "node:os";
import { join } from "node:path";

/** multiclaude's home (`~/.multiclaude`); follows HOME so tests can point it at a temp folder. */
export function multiclaudeHome(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), ".multiclaude");
}

/** Where `serve` keeps the admin token it creates when none is configured (mode 0600). */
export function defaultTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(multiclaudeHome(env), "coordination-token");
}

/** The embedded default store. */
export function defaultStoreUrl(env: NodeJS.ProcessEnv = process.env): string {
  return `sqlite://${join(multiclaudeHome(env), "coordination.db")}`;
}

export const DEFAULT_PORT = 7331;
