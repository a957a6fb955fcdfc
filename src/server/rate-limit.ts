import rateLimit, { type RateLimitPluginOptions } from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from "fastify";
import { CoordError } from "../core/errors.js";

/** DESIGN section 6 `server.rate_limit`; mutable so SIGHUP can change it without a restart. */
export interface RateLimitOptions {
  enabled: boolean;
  requests_per_second: number;
  burst: number;
}


/** Failed authentications allowed per client address and minute before it gets 429s. */
const AUTH_FAILURES_PER_MINUTE = 20;

/** Who a request counts against: the token's name and the address, or the address alone. */
function limitKey(request: FastifyRequest): string {
  return request.actor ? `${request.actor.name}|${request.ip}` : request.ip;
}

function rateLimited(retryAfterSeconds: number, what: string): CoordError {
  return new CoordError("RATE_LIMITED", `too many ${what}; retry in ${retryAfterSeconds}s`, { retry_after_seconds: retryAfterSeconds });
}

/**
 * Per token and client address: on average `requests_per_second`, up to `burst` at once
 * (a fixed window of burst / rate seconds). `/register` is limited harder, since a node
 * registers once per start. Runs after authentication, so the key can name the token.
 *
 * The plugin's own hook would run on every request even with limits off (its allow list is
 * asked after the key is made, through three awaits), so each route gets a hook of ours that
 * passes at once while `settings.enabled` is false and calls the plugin's limiter otherwise:
 * limits switched on at run time (SIGHUP) apply from the next request.
 */
export async function installRateLimit(app: FastifyInstance, settings: RateLimitOptions): Promise<void> {
  const window = () => Math.max(1000, Math.round((settings.burst / Math.max(settings.requests_per_second, 0.001)) * 1000));
  await app.register(rateLimit, {
    global: false,
    max: () => settings.burst,
    timeWindow: window,
    keyGenerator: limitKey,
    errorResponseBuilder: (_request, context) => rateLimited(Math.max(1, Math.ceil(context.ttl / 1000)), "requests"),
  });
  // Routes without limits of their own share one limiter (one count per key over all of them).
  const shared = app.rateLimit();
  app.addHook("onRoute", (route) => {
    const own = route.config?.ownRateLimit;
    const limiter = own ? app.rateLimit(own) : shared;
    const hook: onRequestHookHandler = function (request, reply, done) {
      if (!settings.enabled) return done();
      limiter.call(this, request, reply).then(() => done(), done);
    };
    route.onRequest = [...([] as onRequestHookHandler[]).concat(route.onRequest ?? []), hook];
  });
}

/** The stricter limit for `/register`, as route config (`ownRateLimit`, see installRateLimit). */
export function registerRateLimit(settings: RateLimitOptions): RateLimitPluginOptions {
  return { max: () => Math.max(5, Math.ceil(settings.burst / 10)), timeWindow: 60_000, keyGenerator: limitKey };
}

/**
 * Counts failed authentications per address in one-minute windows; past the limit the address
 * gets 429 before its token is even looked at, which makes guessing tokens slow.
 */
export function createAuthFailureLimiter(settings: RateLimitOptions) {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    check(address: string, now = Date.now()): void {
      if (!settings.enabled) return;
      const w = windows.get(address);
      if (w && w.resetAt > now && w.count >= AUTH_FAILURES_PER_MINUTE) {
        throw rateLimited(Math.ceil((w.resetAt - now) / 1000), "failed authentications");
      }
    },
    failed(address: string, now = Date.now()): void {
      if (windows.size > 10_000) for (const [k, v] of windows) if (v.resetAt <= now) windows.delete(k);
      const w = windows.get(address);
      if (!w || w.resetAt <= now) windows.set(address, { count: 1, resetAt: now + 60_000 });
      else w.count++;
    },
  };
}
