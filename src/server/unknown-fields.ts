import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { FastifyInstance } from "fastify";
import { fieldOf } from "./errors.js";

/** Unknown fields stripped from each request body, by the body object (the request holds it). */
const stripped = new WeakMap<object, string[]>();
/** At most this many `Warning` headers per answer; the rest are counted in one more. */
const MAX_WARNINGS = 20;

/**
 * An additionalProperties failure that is an unknown field: a property a fixed object does not
 * declare. A map with a key pattern (labels, metrics) refuses a bad key instead, and inside a
 * union the failing branch may not be the one meant, so those stay errors.
 */
function isUnknownField(e: ErrorObject): boolean {
  if (e.keyword !== "additionalProperties" || /\/(anyOf|oneOf)\//.test(e.schemaPath)) return false;
  const parent = e.parentSchema as { patternProperties?: unknown } | undefined;
  return parent?.patternProperties === undefined;
}

function remove(data: unknown, e: ErrorObject): void {
  let at = data as Record<string, unknown> | undefined;
  for (const part of e.instancePath.split("/").slice(1)) at = at?.[part.replace(/~1/g, "/").replace(/~0/g, "~")] as Record<string, unknown> | undefined;
  if (at && typeof at === "object") delete at[(e.params as { additionalProperty: string }).additionalProperty];
}

/**
 * Wraps a body validator (ajv, compiled with `verbose`) so unknown fields are ignored: they are
 * deleted from the body and remembered for the `Warning` header (DESIGN §14: a newer client
 * keeps working with an older coordinator). Wrong types and values still fail validation.
 */
export function ignoringUnknownFields(validate: ValidateFunction): ValidateFunction {
  const wrapped = ((data: unknown) => {
    if (validate(data)) return true;
    const unknown = (validate.errors ?? []).filter(isUnknownField);
    if (unknown.length > 0 && data && typeof data === "object") {
      stripped.set(data, unknown.map((e) => fieldOf("body", e.instancePath, e.params as Record<string, unknown>)));
      for (const e of unknown) remove(data, e);
      if (validate(data)) return true;
    }
    wrapped.errors = validate.errors;
    return false;
  }) as ValidateFunction;
  return wrapped;
}

/**
 * The ajv of request bodies: no coercion (`"3"` is not a number), every error at once, and
 * `verbose` (which `ignoringUnknownFields` needs to tell unknown fields from bad map keys).
 */
export function strictBodyAjv(): Ajv {
  // date-time is checked by the field's own pattern (ISO_TIME); declared so ajv does not warn on stderr.
  return new Ajv({ allErrors: true, verbose: true, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false, formats: { "date-time": true } });
}

/** The unknown fields `ignoringUnknownFields` took out of `body` (field paths such as `body.x`). */
export function strippedFields(body: object): string[] {
  return stripped.get(body) ?? [];
}

/** A field name fit for a header: printable ASCII without quotes or backslashes, bounded. */
function headerSafe(field: string): string {
  const safe = field.replace(/[^\x20-\x7e]|["\\]/g, "?");
  return safe.length > 200 ? `${safe.slice(0, 200)}...` : safe;
}

/** Answers name the ignored fields: one `Warning: 299 - "unknown field body.x"` per field. */
export function installUnknownFieldWarnings(app: FastifyInstance): void {
  app.addHook("onSend", (request, reply, payload, done) => {
    const body = request.body;
    const fields = body && typeof body === "object" ? stripped.get(body) : undefined;
    if (fields) {
      const warnings = fields.slice(0, MAX_WARNINGS).map((f) => `299 - "unknown field ${headerSafe(f)}"`);
      if (fields.length > MAX_WARNINGS) warnings.push(`299 - "${fields.length - MAX_WARNINGS} more unknown fields"`);
      reply.header("warning", warnings);
    }
    done(null, payload);
  });
}
