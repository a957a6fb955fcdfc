/**
 * The recordings of the real multiclaude CLI (shared/multiclaude beside the checkout: transcripts,
 * state.json snapshots, message files). Tests built on them run wherever the folder is, and
 * always in CI (where it must be: a missing folder there fails them instead of skipping).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const RECORDINGS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/multiclaude");

/** Whether the tests on the recordings run here. */
export const useRecordings = existsSync(RECORDINGS) || !!process.env.CI;

/** A recorded file's text (`state/03-after-complete.json`, `messages/written-by-multiclaude.json`, ...). */
export function recordedText(path: string): string {
  return readFileSync(join(RECORDINGS, path), "utf8");
}
