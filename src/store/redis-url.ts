import type { RedisOptions } from "ioredis";

/** Defaults of `?wait_replicas=` and `?wait_timeout_ms=` for a Sentinel URL (plain redis:// waits for none). */
export const SENTINEL_WAIT_REPLICAS = 1;
export const DEFAULT_WAIT_TIMEOUT_MS = 2000;

/** What a `redis://`, `rediss://` or `redis+sentinel://` store URL says. */
export interface RedisTarget {
  /** What ioredis is given: the URL itself (redis://, rediss://), or Sentinel options. */
  connect: string | RedisOptions;
  /** `?prefix=`: keeps several deployments apart in one Redis database. */
  keyPrefix?: string;
  /** `?wait_replicas=N`: every commit that writes waits (`WAIT N`) until N replicas have it. */
  waitReplicas: number;
  /** `?wait_timeout_ms=`: how long that wait may take before the write is answered 503. */
  waitTimeoutMs: number;
}

const DB = /^\d{1,2}$/;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const PREFIX = /^[A-Za-z0-9._:-]{1,64}$/;

function count(params: URLSearchParams, name: string, max: number, fallback: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) > max) throw new Error(`${name} must be a whole number from 0 to ${max}`);
  return Number(raw);
}

/** `host:port`, `host` or `[v6]:port` of one sentinel (port 26379 unless given). */
function sentinelAddress(text: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new Error(`sentinel "${text}" must be HOST or HOST:PORT`);
  const port = m[2] === undefined ? 26379 : Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`sentinel "${text}": port out of range`);
  return { host: m[1]!, port };
}

/** The options shared by both kinds of URL: prefix and replica wait. */
function common(params: URLSearchParams, waitDefault: number) {
  const prefix = params.get("prefix");
  if (prefix !== null && !PREFIX.test(prefix)) throw new Error("prefix must be 1-64 of [A-Za-z0-9._:-]");
  return {
    ...(prefix !== null ? { keyPrefix: prefix } : {}),
    waitReplicas: count(params, "wait_replicas", 100, waitDefault),
    waitTimeoutMs: count(params, "wait_timeout_ms", 600_000, DEFAULT_WAIT_TIMEOUT_MS),
  };
}

/**
 * `redis+sentinel://[user:password@]host1:26379,host2:26379/MASTERNAME[/DB][?…]`: the master
 * `MASTERNAME` found through those sentinels (ioredis asks them again after every disconnect,
 * so a failover is followed). The password is the data nodes'; `?sentinel_password=` is the
 * sentinels' own, if they have one. Writes wait for 1 replica by default (`?wait_replicas=`).
 */
function parseSentinelUrl(url: string): RedisTarget {
  const m = /^redis\+sentinel:\/\/(?:([^@/?]*)@)?([^/?]+)\/([^/?]*)(?:\/([^/?]*))?\/?(?:\?(.*))?$/i.exec(url);
  if (!m) throw new Error("expected redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB]");
  const [, auth, hosts, name, db = "", query = ""] = m;
  if (!NAME.test(name!)) throw new Error(`master name "${name}" must be 1-64 of [A-Za-z0-9._-]`);
  if (db !== "" && !DB.test(db)) throw new Error(`database "${db}" must be a number`);
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (!["prefix", "wait_replicas", "wait_timeout_ms", "sentinel_password"].includes(key)) throw new Error(`unknown option "${key}"`);
  }
  const [user, ...rest] = (auth ?? "").split(":");
  const password = rest.length > 0 ? decodeURIComponent(rest.join(":")) : undefined;
  const sentinelPassword = params.get("sentinel_password");
  const connect: RedisOptions = {
    sentinels: hosts!.split(",").map(sentinelAddress),
    name: name!,
    db: db === "" ? 0 : Number(db),
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(sentinelPassword !== null ? { sentinelPassword } : {}),
  };
  return { connect, ...common(params, SENTINEL_WAIT_REPLICAS) };
}

/**
 * Reads a Redis store URL; throws an Error saying what is wrong. `redis://HOST:PORT/DB`
 * (`rediss://` for TLS) goes to ioredis as it is, without the options of ours
 * (`prefix`, `wait_replicas`, `wait_timeout_ms`).
 */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^redis\+sentinel:/i.test(url)) return parseSentinelUrl(url);
  if (/^rediss\+sentinel:/i.test(url)) throw new Error("TLS to Sentinel deployments is not supported; use redis+sentinel:// on a trusted network");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error("not a valid URL");
  }
  if (!parsed.hostname) throw new Error("redis:// needs a host");
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !DB.test(db)) throw new Error(`database "${db}" must be a number`);
  const options = common(parsed.searchParams, 0);
  parsed.search = "";
  return { connect: parsed.toString(), ...options };
}

/** Whether a store URL names Redis (plain, TLS or through Sentinel). */
export function isRedisUrl(url: string): boolean {
  return /^(redis|rediss|redis\+sentinel|rediss\+sentinel):\/\//i.test(url);
}
