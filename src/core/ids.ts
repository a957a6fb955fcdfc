import { randomBytes, randomFillSync } from "node:crypto";

let lastMs = 0;
let seq = 0;
// Random bytes drawn in blocks: one syscall per 1024 ids instead of one per id.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function random32(): number {
  if (poolAt + 4 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const n = pool.readUInt32BE(poolAt);
  poolAt += 4;
  return n;
}

/**
 * Ids that sort by creation time: a 10-char base36 millisecond stamp, a 4-char counter for ids
 * made in the same millisecond by this process, and 6 random chars so replicas never collide.
 */
export function newId(prefix: string, nowMs = Date.now()): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    seq = 0;
  } else {
    seq++;
  }
  const stamp = lastMs.toString(36).padStart(10, "0");
  const counter = seq.toString(36).padStart(4, "0");
  const rand = random32().toString(36).padStart(7, "0").slice(-6);
  return `${prefix}-${stamp}${counter}${rand}`;
}

/** An unguessable id (registrations act as a node's session, so they must not be guessable). */
export function newSecretId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString("base64url")}`;
}

/**
 * The creation time (ms since the epoch) a `newId` id carries, or undefined for other ids. It is
 * the creator's clock, kept monotonic per process, so at worst slightly after the real creation.
 */
export function idTime(id: string): number | undefined {
  const m = /-([0-9a-z]{10})[0-9a-z]{10}$/.exec(id);
  if (!m) return undefined;
  const ms = parseInt(m[1]!, 36);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
