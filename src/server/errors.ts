import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CoordError, ERROR_STATUS, type ErrorCode } from "../core/errors.js";
import { storeFault } from "../store/faults.js";
import { PATTERN_WORDS } from "./schemas.js";

/** The error envelope of DESIGN section 5. */
export interface ErrorBody {
  success: false;
  error: string;
  code: string;
  details: Record<string, unknown>;
}

function body(code: ErrorCode, error: string, details: Record<string, unknown> = {}): ErrorBody {
  return { success: false, error, code, details };
}

/** ajv's `/capacity/max_workers` → `capacity.max_workers`, prefixed with where it was. */
export function fieldOf(part: string | undefined, instancePath: string, params: Record<string, unknown>): string {
  let path = instancePath.replace(/^\//, "").replace(/\//g, ".");
  if (typeof params.missingProperty === "string") path = path ? `${path}.${params.missingProperty}` : params.missingProperty;
  if (typeof params.additionalProperty === "string") path = path ? `${path}.${params.additionalProperty}` : params.additionalProperty;
  const where = part === "querystring" ? "query" : part === "params" ? "path" : part === "headers" ? "header" : (part ?? "body");
  return path ? `${where}.${path}` : where;
}

/** ajv's message, but a pattern in words (`must match pattern "^[A-Za-z0-9]…"` helps nobody). */
function fieldMessage(keyword: string, params: Record<string, unknown>, message: string | undefined): string {
  if (keyword === "additionalProperties") return "unknown field";
  if (keyword === "pattern") return PATTERN_WORDS[String(params.pattern)] ?? "contains characters that are not allowed";
  // A type list (a field that may be null, schemas.ts Nullable): "must be string,null" in words.
  if (keyword === "type" && String(params.type).includes(",")) {
    const types = String(params.type).split(",").map((t) => (t === "null" ? t : `${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`));
    return `must be ${types.join(" or ")}`;
  }
  return message ?? "invalid";
}

export interface AjvError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * ajv reports a value outside a union of literals as one "must be equal to constant" per choice
 * plus "must match a schema in anyOf"; people want "must be one of healthy, degraded, draining".
 * The per-choice errors are folded into their anyOf, and `enum` gets the same wording.
 */
function readableErrors(errors: AjvError[]): { error: AjvError; message: string }[] {
  const choices = new Map<string, unknown[]>();
  const folded = new Set<AjvError>();
  for (const e of errors) {
    const m = e.keyword === "const" ? /^(.*\/anyOf)\/\d+\/const$/.exec(e.schemaPath) : null;
    if (!m) continue;
    choices.set(`${e.instancePath} ${m[1]}`, [...(choices.get(`${e.instancePath} ${m[1]}`) ?? []), e.params.allowedValue]);
    folded.add(e);
  }
  const out: { error: AjvError; message: string }[] = [];
  for (const e of errors) {
    if (folded.has(e)) continue;
    const values = e.keyword === "anyOf" ? choices.get(`${e.instancePath} ${e.schemaPath}`) : e.keyword === "enum" ? (e.params.allowedValues as unknown[]) : undefined;
    if (values) out.push({ error: e, message: `must be one of ${values.map(String).join(", ")}` });
    else out.push({ error: e, message: fieldMessage(e.keyword, e.params, e.message) });
  }
  return out;
}

/** One refused field of a request, as the 400's `details.fields` lists it. */
export interface FieldError {
  field: string;
  message: string;
}

/** ajv's errors as readable field errors (`body.capacity.max_workers: must be >= 1`); `part` as fastify names it. */
export function validationFields(errors: AjvError[], part: string | undefined): FieldError[] {
  return readableErrors(errors).map(({ error: v, message }) => ({ field: fieldOf(part, v.instancePath, v.params), message }));
}

/**
 * A batch body (`{<list>: [...]}`) that fails validation names its first bad item: `details.index`,
 * only that item's fields, as `body.tasks[3].repo`. Errors of the body itself stay as they are.
 */
function firstBadItem(fields: FieldError[], list: string): { index?: number; fields: FieldError[] } {
  const item = new RegExp(`^body\\.${list}\\.(\\d+)(?=\\.|$)`);
  const indexOf = (f: FieldError) => Number(item.exec(f.field)?.[1] ?? NaN);
  const indexes = fields.map(indexOf).filter((i) => !Number.isNaN(i));
  if (indexes.length === 0) return { fields };
  const index = Math.min(...indexes);
  const own = fields.filter((f) => indexOf(f) === index).map((f) => ({ ...f, field: f.field.replace(item, `body.${list}[${index}]`) }));
  return { index, fields: own };
}

/** What the route being answered adds to how its errors read. */
export interface ErrorRouteOptions {
  /** The body is a batch of items in this list field (see `firstBadItem`). */
  batch?: string;
  /** The route's body limit, named by a 413. */
  bodyLimit?: number;
}

/**
 * Turns anything thrown while handling a request into the error envelope. The one place that
 * decides statuses; nothing else answers an error. Unknown errors become a 500 without internals.
 */
export function toErrorResponse(
  err: unknown,
  log?: FastifyRequest["log"],
  route: ErrorRouteOptions = {},
): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  if (err instanceof CoordError) {
    const headers: Record<string, string> = {};
    if (err.code === "RATE_LIMITED") headers["retry-after"] = String(err.details.retry_after_seconds ?? 1);
    if (err.code === "UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="multiclaude-coord"';
    return { status: err.status, body: body(err.code, err.message, err.details), headers };
  }
  // A store driver's failure (full disk, read-only database, lost Redis) is an answer: 503.
  const fault = storeFault(err);
  if (fault) return toErrorResponse(fault, log);
  const e = err as FastifyError & { validationContext?: string };
  if (e?.validation) {
    const all = validationFields(e.validation as AjvError[], e.validationContext);
    const { index, fields } = route.batch ? firstBadItem(all, route.batch) : { index: undefined, fields: all };
    const summary = fields.slice(0, 3).map((f) => `${f.field}: ${f.message}`).join("; ");
    const what = index === undefined ? "invalid request" : `invalid request: ${route.batch}[${index}]`;
    return { status: 400, body: body("INVALID_REQUEST", `${what}: ${summary}`, { ...(index === undefined ? {} : { index }), fields }) };
  }
  switch (e?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { status: 413, body: body("PAYLOAD_TOO_LARGE", "request body is too large", { limit_bytes: route.bodyLimit ?? 1_048_576 }) };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { status: 415, body: body("UNSUPPORTED_MEDIA_TYPE", "send JSON with Content-Type: application/json") };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { status: 400, body: body("INVALID_REQUEST", "body is empty; send a JSON object") };
    case "FST_ERR_BAD_URL":
      return { status: 400, body: body("INVALID_REQUEST", "the URL is not validly encoded") };
    case "FST_ERR_MAX_PARAM_LENGTH":
      return { status: 400, body: body("INVALID_REQUEST", "a path parameter is too long (at most 200 characters)") };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { status: 400, body: body("INVALID_REQUEST", "Content-Length does not match the body") };
  }
  if (e instanceof SyntaxError || e?.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return { status: 400, body: body("INVALID_REQUEST", "body is not valid JSON") };
  }
  const status = typeof e?.statusCode === "number" ? e.statusCode : 500;
  if (status === 503) return { status, body: body("UNAVAILABLE", "coordinator is unavailable; retry") };
  if (status >= 400 && status < 500) {
    if (status === 429) return { status, body: body("RATE_LIMITED", "too many requests; slow down") };
    const code: ErrorCode = status === 404 ? "NOT_FOUND" : status === 413 ? "PAYLOAD_TOO_LARGE" : status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "INVALID_REQUEST";
    return { status: ERROR_STATUS[code], body: body(code, "bad request") };
  }
  log?.error({ err }, "unhandled error");
  return { status: 500, body: body("INTERNAL", "internal error; see the coordinator's log") };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const options = reply.request?.routeOptions;
  const { status, body: payload, headers } = toErrorResponse(err, reply.log, { batch: options?.config?.batch, bodyLimit: options?.bodyLimit });
  if (headers) reply.headers(headers);
  reply.coordErrorCode = payload.code;
  // Plain JSON, not the route's response schema: the document narrows `code` per status, and an
  // answer it does not list must still go out whole (the conformance test catches the omission).
  return reply.code(status).type("application/json").serializer(JSON.stringify).send(payload);
}

/** Installs the error and not-found handlers on an app. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, _request, reply) => sendError(reply, err));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!.slice(0, 200);
    sendError(reply, new CoordError("NOT_FOUND", `no route ${request.method} ${path}`, { method: request.method }));
  });
}
