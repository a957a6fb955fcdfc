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
  let entries = options.tokens.map((t) => ({ digest: digest(t.token), actor: actorOf(t) }));

  // Headers already verified, so a busy node does not hash its token on every request.
  // Only successes are kept (guesses never fill it); cleared when the token list changes.
  let verified = new Map<string, Actor>();

  function identify(header: string | undefined): Actor | undefined {
    if (!required) return ANONYMOUS;
    if (header === undefined) return undefined;
    const known = verified.get(header);
    if (known) return known;
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) return undefined;
    const presented = digest(match[1]!);
    let found: Actor | undefined;
    for (const e of entries) if (timingSafeEqual(e.digest, presented) && !found) found = e.actor;
    if (found) {
      if (verified.size >= 1000) verified = new Map();
      verified.set(header, found);
    }
    return found;
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
    onChange(listener: () => void): () => void {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    setTokens(next: AuthOptions): void {
      required = next.required;
      verified = new Map();
      entries = next.tokens.map((t) => ({ digest: digest(t.token), actor: actorOf(t) }));
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
      // Known even when refused, so the audit log can name who was refused.
      request.actor = actor;
      if (!roleAllows(actor.role, access)) {
        throw new CoordError("FORBIDDEN", `this needs the ${access} role; token "${actor.name}" has ${actor.role}`, {
          required_role: access,
          role: actor.role,
        });
      }
      return actor;
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
