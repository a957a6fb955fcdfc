import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditLog } from "./audit-log.js";
import { tokenFingerprint } from "./auth.js";

declare module "fastify" {
  interface FastifyReply {
    /** The error code answered, for the audit log. */
    coordErrorCode?: string;
  }
  interface FastifyRequest {
    /** What a route adds to its audit line (an admin's takeover of a node names the owner before). */
    auditNote?: { takeover_from?: string };
  }
}

/** What a request acted on: the id in its path, else the node it registers. */
function targetOf(request: FastifyRequest): string | null {
  const params = request.params as Record<string, string> | undefined;
  if (params?.id) return params.id;
  if (params?.repo) return params.repo;
  const body = request.body as Record<string, unknown> | undefined;
  if (body && typeof body.node_id === "string") return body.node_id;
  if (body && typeof body.to === "string") return body.to;
  return null;
}

/** The caller as the audit log names it: the token's name, or a fingerprint of an unknown token. */
function actorOf(request: FastifyRequest): { actor: string; role: string | null } {
  if (request.actor) return { actor: request.actor.name, role: request.actor.role };
  const m = /^Bearer[ \t]+(\S+)/i.exec(request.headers.authorization ?? "");
  return { actor: m ? tokenFingerprint(m[1]!) : "anonymous", role: null };
}

/** Logs every mutating request and every refused authentication or authorisation. */
export function installAudit(app: FastifyInstance, audit: AuditLog): void {
  app.addHook("onResponse", async (request, reply) => {
    const status = reply.statusCode;
    const authFailure = status === 401 || status === 403;
    if (request.method === "GET" && !authFailure) return;
    if (request.method === "HEAD" || request.method === "OPTIONS") return;
    audit.write({
      time: new Date().toISOString(),
      ...actorOf(request),
      address: request.ip,
      action: `${request.method} ${request.routeOptions.url ?? request.url.split("?")[0]!.slice(0, 200)}`,
      target: targetOf(request),
      status,
      outcome: status < 400 ? "ok" : "error",
      ...(reply.coordErrorCode ? { code: reply.coordErrorCode } : {}),
      ...request.auditNote,
    });
  });
}
