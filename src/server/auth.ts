import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { CoordError } from "../core/errors.js";
import type { Caller } from "../core/identity.js";
import type { Role, TokenEntry } from "../config/types.js";

/** Who is calling; the token itself is never kept here, so it cannot leak into logs. */
export interface Actor extends Caller {
  role: Role;
}

/** Everyone, when authentication is switched off: an admin that owns nothing (see `Caller.anonymous`). */
const ANONYMOUS: Actor = { name: "anonymous", role: "admin", anonymous: true };

const actorOf = (t: TokenEntry): Actor => ({ name: t.name, role: t.role, ...(t.nodes ? { nodes: t.nodes } : {}) });

/** Route access: `anyone`, or the least role that may call it. */
export type Access = "anyone" | Role;

const RANK: Record<Role, number> = { read: 0, node: 1, admin: 2 };

export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** A short, stable, non-reversible name for a token, for logs. */
export function tokenFingerprint(token: string): string {
  return `token:${digest(token).toString("hex").slice(0, 8)}`;
}

/**
 * What a dashboard session stores to name its token (DESIGN §13): a hash apart from the digest
 * compared above, so the store holds nothing a request could present.
 */
export function tokenKey(token: string): string {
  return createHash("sha256").update(`mcc-session:${token}`).digest("hex").slice(0, 40);
}

/** The token of an `Authorization: Bearer` header, if it is one. */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];
}

export interface AuthOptions {
  required: boolean;
  tokens: TokenEntry[];
}

/**
 * Bearer-token authentication. Tokens are compared as SHA-256 digests with timingSafeEqual,
 * against every entry without stopping early, so timing tells nothing about a near miss.
 * `setTokens` swaps the list at run time (rotation without a restart).
 */
export function createAuth(options: AuthOptions) {
  let required = options.required;
  const changeListeners = new Set<() => void>();
  const entriesOf = (tokens: TokenEntry[]) => tokens.map((t) => ({ digest: digest(t.token), key: tokenKey(t.token), actor: actorOf(t) }));
  let entries = entriesOf(options.tokens);

  // Headers already verified, so a busy node does not hash its token on every request.
  // Only successes are kept (guesses never fill it); cleared when the token list changes.
  let verified = new Map<string, Actor>();

  function identify(header: string | undefined): Actor | undefined {
    if (!required) return ANONYMOUS;
    if (header === undefined) return undefined;
    const known = verified.get(header);
    if (known) return known;
    const token = bearerToken(header);
    if (token === undefined) return undefined;
    const presented = digest(token);
    let found: Actor | undefined;
    for (const e of entries) if (timingSafeEqual(e.digest, presented) && !found) found = e.actor;
    if (found) {
      if (verified.size >= 1000) verified = new Map();
      verified.set(header, found);
    }
    return found;
  }

  /** The caller, if its role may call a route of `access`; else 403 (the caller is kept on the request for the audit log). */
  function authorize(request: FastifyRequest, actor: Actor, access: Access): Actor {
    // Known even when refused, so the audit log can name who was refused.
    request.actor = actor;
    if (access !== "anyone" && !roleAllows(actor.role, access)) {
      throw new CoordError("FORBIDDEN", `this needs the ${access} role; token "${actor.name}" has ${actor.role}`, {
        required_role: access,
        role: actor.role,
      });
    }
    return actor;
  }

  return {
    get required() {
      return required;
    },
    /** The caller an Authorization header names, if valid (routes not found are not checked, the audit log asks). */
    identify,
    /** Whether an Authorization header is (still) valid; used to end streams of revoked tokens. */
    accepts(header: string | undefined): boolean {
      return identify(header) !== undefined;
    },
    /**
     * The caller a session's token key names while that token is still configured: a token
     * removed by a reload ends its sessions, and a changed role applies to them at once.
     */
    actorOfKey(key: string): Actor | undefined {
      if (!required) return ANONYMOUS;
      return entries.find((e) => e.key === key)?.actor;
    },
    /** The keys (see `tokenKey`) of the configured tokens: sessions of any other key have ended. */
    tokenKeys(): string[] {
      return entries.map((e) => e.key);
    },
    onChange(listener: () => void): () => void {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    setTokens(next: AuthOptions): void {
      required = next.required;
      verified = new Map();
      entries = entriesOf(next.tokens);
      for (const l of changeListeners) l();
    },
    /** Resolves the caller of a request or throws 401/403 for the route's access level. */
    check(request: FastifyRequest, access: Access): Actor | undefined {
      if (access === "anyone") return identify(request.headers.authorization);
      const actor = identify(request.headers.authorization);
      if (!actor) {
        throw new CoordError(
          "UNAUTHORIZED",
          request.headers.authorization ? "invalid token" : "missing bearer token (Authorization: Bearer <token>)",
        );
      }
      return authorize(request, actor, access);
    },
    authorize,
  };
}

export type Auth = ReturnType<typeof createAuth>;
