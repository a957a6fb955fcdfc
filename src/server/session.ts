import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { CoordError } from "../core/errors.js";
import type { SessionLimits, SessionRecord, SessionStore } from "../store/types.js";
import { tokenKey, type Access, type Actor, type Auth } from "./auth.js";
import type { SseWriter } from "./sse.js";

/** The dashboard's cookie (DESIGN §13): HttpOnly, SameSite=Strict, Path=/, Secure under TLS. */
export const SESSION_COOKIE = "mcc_session";
/**
 * Its name under TLS: the `__Host-` prefix makes the browser refuse it unless Secure, Path=/ and
 * without Domain, so no other service on a sibling host or over plain HTTP can plant or shadow it.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
const cookieName = (secure: boolean) => (secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE);
const isTls = (request: FastifyRequest) => request.protocol === "https";
/** The session cookie a request carries, under the name its protocol uses. */
const requestCookie = (request: FastifyRequest) => readCookie(request.headers.cookie, cookieName(isTls(request)));
/** The header a page sends its CSRF token in on every mutating request made with the cookie. */
export const CSRF_HEADER = "x-csrf-token";
export const SESSION_LIFETIME_MS = 12 * 3_600_000;
/** A token signs in from a few browsers; a 21st sign-in ends its oldest session. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { perToken: 20, total: 10_000 };
/** How often open streams of sessions re-check them, so a sign-out elsewhere ends them too. */
const STREAM_CHECK_MS = 10_000;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const sha256 = (s: string) => createHash("sha256").update(s).digest();
const hashId = (cookieValue: string) => sha256(cookieValue).toString("hex");

export interface SessionOptions {
  store: SessionStore;
  auth: Auth;
  now?: () => number;
  lifetimeMs?: number;
  limits?: SessionLimits;
  streamCheckMs?: number;
}

/** A request's session, once its cookie checked out. */
export interface RequestSession {
  record: SessionRecord;
}

declare module "fastify" {
  interface FastifyRequest {
    session?: RequestSession;
  }
}

/** The value of cookie `name` in a Cookie header; undefined when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value; `maxAgeSeconds` 0 removes the cookie. */
export function sessionCookie(value: string, secure: boolean, maxAgeSeconds: number): string {
  return `${cookieName(secure)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

const sameSecret = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b));

/**
 * Dashboard sessions (DESIGN §13). A session lives in the store (so every replica knows it and a
 * sign-out anywhere ends it everywhere) under the hash of its cookie, and names its token by
 * `tokenKey`: each request resolves the token's current entry, so a token removed by a reload
 * ends its sessions and a role change applies at once. The cookie and the token never reach a
 * log; the page keeps the CSRF token in memory only.
 */
export function createSessions(options: SessionOptions) {
  const { store, auth } = options;
  const now = options.now ?? Date.now;
  const lifetimeMs = options.lifetimeMs ?? SESSION_LIFETIME_MS;
  const limits = options.limits ?? DEFAULT_SESSION_LIMITS;

  /** The session of a request's cookie, still valid, and the caller it stands for. */
  async function lookup(request: FastifyRequest): Promise<{ record: SessionRecord; actor: Actor } | undefined> {
    const value = requestCookie(request);
    if (!value || value.length > 100) return undefined;
    const record = await store.getSession(hashId(value), now());
    if (!record) return undefined;
    const actor = auth.actorOfKey(record.token_key);
    // Its token was removed (on another replica's config, or before the reload reached the store).
    if (!actor) await store.deleteSession(record.id);
    return actor ? { record, actor } : undefined;
  }

  /**
   * Ends in the store every session of a token no longer configured, so putting the token back
   * does not revive them (DESIGN §13: a reload that removes a token ends its sessions). Runs at
   * start and on every token change; a store that is away is retried on the next change, and
   * meanwhile `lookup` ends such sessions on their next use.
   */
  async function pruneRemovedTokens(): Promise<number> {
    if (!auth.required) return 0;
    return store.deleteSessionsExcept(auth.tokenKeys()).catch(() => 0);
  }

  /** Whether a request authenticates with the session cookie: it carries one and no Authorization header. */
  const appliesTo = (request: FastifyRequest): boolean => request.headers.authorization === undefined && requestCookie(request) !== undefined;

  return {
    lifetimeMs,
    appliesTo,
    /** Starts a session for `token` (already verified); returns the cookie value and the record. */
    async create(token: string, request?: FastifyRequest): Promise<{ cookie: string; record: SessionRecord }> {
      // Signing in again from a browser that holds a session ends that session first.
      const previous = request ? requestCookie(request) : undefined;
      if (previous && previous.length <= 100) await store.deleteSession(hashId(previous));
      const cookie = randomBytes(32).toString("base64url");
      const t = now();
      const record: SessionRecord = {
        id: hashId(cookie),
        token_key: tokenKey(token),
        csrf: randomBytes(24).toString("base64url"),
        created_ms: t,
        expires_ms: t + lifetimeMs,
      };
      if (!(await store.createSession(record, limits, t))) {
        throw new CoordError("RATE_LIMITED", `too many dashboard sessions (limit ${limits.total}); try again later`, {
          limit: limits.total,
          retry_after_seconds: 60,
        });
      }
      return { cookie, record };
    },

    /**
     * The caller of a request that carries the session cookie and no Authorization header (a
     * bearer token wins, so API use is unchanged); undefined for requests without a cookie.
     * Refuses an expired or ended session (401) and a mutation without the session's CSRF token (403).
     */
    async authenticate(request: FastifyRequest, access: Access): Promise<Actor | undefined> {
      if (!appliesTo(request)) return undefined;
      // Another origin's page (another port or service on this host is "same-site", so SameSite
      // does not stop it) may not use the cookie, not even to read or open a stream. Browsers
      // without Fetch Metadata, and tools, send no header and are let through.
      const site = request.headers["sec-fetch-site"];
      if (site !== undefined && site !== "same-origin") {
        if (access === "anyone") return undefined;
        throw new CoordError("UNAUTHORIZED", "the session cookie is accepted only from the dashboard's own origin", {
          session: "cross-origin",
          sec_fetch_site: String(site),
        });
      }
      const found = await lookup(request);
      if (!found) {
        if (access === "anyone") return undefined;
        throw new CoordError("UNAUTHORIZED", "the dashboard session has expired or was signed out; sign in again", { session: "invalid" });
      }
      auth.authorize(request, found.actor, access);
      if (!SAFE_METHODS.has(request.method)) {
        const presented = request.headers[CSRF_HEADER];
        if (typeof presented !== "string" || !sameSecret(presented, found.record.csrf)) {
          throw new CoordError(
            "CSRF_TOKEN_INVALID",
            `a request made with the session cookie that changes something needs the session's CSRF token in ${CSRF_HEADER}`,
            { header: CSRF_HEADER },
          );
        }
      }
      request.session = { record: found.record };
      return found.actor;
    },

    /** Ends a session (sign-out); its open streams on this replica end now, elsewhere within seconds. */
    async end(record: SessionRecord, streams: Set<SseWriter>): Promise<void> {
      await store.deleteSession(record.id);
      for (const s of streams) if (s.sessionId === record.id) s.close();
    },

    pruneRemovedTokens,

    /**
     * Ends open streams whose session ended: at once for a token taken out by a reload, and
     * every few seconds for sign-outs and expiry (which may happen on another replica); also
     * prunes the sessions of removed tokens at start and on each reload.
     * Returns the function that stops watching.
     */
    watchStreams(streams: Set<SseWriter>): () => void {
      void pruneRemovedTokens();
      const check = async () => {
        const ids = new Set([...streams].flatMap((s) => (s.sessionId ? [s.sessionId] : [])));
        for (const id of ids) {
          const record = await store.getSession(id, now()).catch(() => "unknown" as const);
          if (record === "unknown") continue; // the store is away: the stream's own reads will tell
          if (record && auth.actorOfKey(record.token_key)) continue;
          if (record) await store.deleteSession(record.id).catch(() => undefined);
          for (const s of streams) if (s.sessionId === id) s.close();
        }
      };
      const timer = setInterval(() => void check(), options.streamCheckMs ?? STREAM_CHECK_MS);
      timer.unref();
      const stopListening = auth.onChange(() => void pruneRemovedTokens().then(check));
      return () => {
        clearInterval(timer);
        stopListening();
      };
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
