import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { createAuditLog, type AuditLogOptions } from "./audit-log.js";
import { createRefusalCounter } from "./audit-refusals.js";
import { tokenFingerprint } from "./auth.js";

declare module "fastify" {
  interface FastifyReply {
    /** The error code answered, for the audit log. */
    coordErrorCode?: string;
  }
  interface FastifyRequest {
    /** What a route adds to its audit line (an admin's takeover of a node names the owner before). */
    auditNote?: { takeover_from?: string };
    /** What the request acted on, taken once its input was validated. */
    auditTarget?: string | null;
  }
}

/** Every field copied from a request is cut to this many characters. */
export const AUDIT_FIELD_MAX = 256;

const bounded = (s: string): string => (s.length > AUDIT_FIELD_MAX ? `${s.slice(0, AUDIT_FIELD_MAX - 1)}…` : s);

/** `audit.log` → `audit.refused.log` (`audit` → `audit.refused`): where unauthenticated requests are counted. */
export function refusalsFile(file: string): string {
  return file.replace(/(\.[^./]*)?$/, (ext) => `.refused${ext}`);
}

/** What a request acted on: the id in its path, else the node it registers or the message's recipient. */
function targetOf(request: FastifyRequest): string | null {
  const params = request.params as Record<string, unknown> | undefined;
  const body = request.body as Record<string, unknown> | undefined;
  for (const v of [params?.id, params?.repo, body?.node_id, body?.to]) if (typeof v === "string") return bounded(v);
  return null;
}

function unknownActor(request: FastifyRequest): string {
  const m = /^Bearer[ \t]+(\S+)/i.exec(request.headers.authorization ?? "");
  return m ? tokenFingerprint(m[1]!) : "anonymous";
}

/**
 * The audit log (DESIGN §10). Requests of a known token go to `file`, one line each: every
 * mutating request and every authorisation refusal. Requests that never authenticated go to
 * the refusals file, counted per address per minute, so a flood of them cannot rotate the
 * record of accepted changes away. Fields copied from a request come only from input that
 * passed validation and are bounded.
 */
export function installAudit(app: FastifyInstance, options: AuditLogOptions): void {
  const audit = createAuditLog(options);
  const refusedLog = createAuditLog({ ...options, file: refusalsFile(options.file) });
  const refusals = createRefusalCounter({ log: refusedLog, windowMs: options.refusalWindowMs });

  // preHandler runs only after the body, query and params passed their schemas. Both hooks are
  // callbacks, not async: they run on every request and wait for nothing.
  app.addHook("preHandler", (request, _reply, done) => {
    request.auditTarget = targetOf(request);
    done();
  });
  const record = (request: FastifyRequest, reply: FastifyReply): void => {
    const status = reply.statusCode;
    if (request.method === "HEAD" || request.method === "OPTIONS") return;
    const action = `${request.method} ${bounded(request.routeOptions.url ?? request.url.split("?")[0]!)}`;
    const address = bounded(request.ip);
    // Routes that were not found never checked the token: the log still tells a known caller.
    const actor = request.actor ?? app.coordAuth.identify(request.headers.authorization);
    if (!actor) {
      if (request.method !== "GET" || status === 401 || status === 403 || status === 429) refusals.count(address, status, action, unknownActor(request));
      return;
    }
    if (request.method === "GET" && status !== 401 && status !== 403) return;
    audit.write({
      time: new Date().toISOString(),
      actor: actor.name,
      role: actor.role,
      address,
      action,
      target: request.auditTarget ?? null,
      status,
      outcome: status < 400 ? "ok" : "error",
      ...(reply.coordErrorCode ? { code: reply.coordErrorCode } : {}),
      ...request.auditNote,
    });
  };
  app.addHook("onResponse", (request, reply, done) => {
    record(request, reply);
    done();
  });
  app.addHook("onClose", async () => {
    refusals.close();
    await Promise.all([audit.close(), refusedLog.close()]);
  });
}
