import { parseConcurrency, type Concurrency } from "../core/concurrency.js";
import { normaliseDependsOn } from "../core/dependencies.js";
import { CoordError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { parseNotBefore } from "../core/workflow.js";
import type { CreateTaskInput } from "./types.js";

/** What a create needs before its transaction: the new id and the checked input. */
export interface PreparedCreate {
  id: string;
  input: CreateTaskInput;
  key: string | null;
  notBefore: string | null;
  /** Ids of the tasks it waits for, checked and without repeats. */
  dependsOn: string[];
  /** `concurrency_key` / `concurrency_limit`, checked (a limit needs a key). */
  concurrency: Concurrency;
}

export function prepareCreate(input: CreateTaskInput, now: Date): PreparedCreate {
  return {
    id: newId("task", now.getTime()),
    input,
    key: input.idempotency_key ?? null,
    notBefore: parseNotBefore(input.not_before, now.getTime()),
    dependsOn: normaliseDependsOn(input.depends_on),
    concurrency: parseConcurrency(input.concurrency_key, input.concurrency_limit),
  };
}

/**
 * Runs one batch item's step; a refusal names the item: `details.index`, and field paths of the
 * item (`body.x`) become paths into the batch (`body.tasks[i].x`).
 */
export function atIndex<T>(index: number, step: () => T): T {
  const name = (err: unknown): never => {
    if (!(err instanceof CoordError)) throw err;
    const move = (field: string) => field.replace(/^body\b/, `body.tasks[${index}]`);
    const { field, fields } = err.details as { field?: unknown; fields?: { field: string; message: string }[] };
    const details: Record<string, unknown> = { ...err.details, index };
    if (typeof field === "string") details.field = move(field);
    if (Array.isArray(fields)) details.fields = fields.map((f) => ({ ...f, field: move(f.field) }));
    throw new CoordError(err.code, `tasks[${index}]: ${err.message}`, details);
  };
  try {
    const out = step();
    return out instanceof Promise ? (out.catch(name) as T) : out;
  } catch (err) {
    return name(err);
  }
}
