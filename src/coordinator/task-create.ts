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
}

export function prepareCreate(input: CreateTaskInput, now: Date): PreparedCreate {
  return { id: newId("task", now.getTime()), input, key: input.idempotency_key ?? null, notBefore: parseNotBefore(input.not_before, now.getTime()) };
}

/**
 * Runs one batch item's step; a refusal names the item: `details.index`, and field paths of the
 * item (`body.x`) become paths into the batch (`body.tasks[i].x`).
 */
export function atIndex<T>(index: number, step: () => T): T {
  const name = (err: unknown): never => {
    if (!(err instanceof CoordError)) throw err;
    const fields = err.details.fields as { field: string; message: string }[] | undefined;
    const moved = fields?.map((f) => ({ ...f, field: f.field.replace(/^body\b/, `body.tasks[${index}]`) }));
    throw new CoordError(err.code, `tasks[${index}]: ${err.message}`, { ...err.details, index, ...(moved ? { fields: moved } : {}) });
  };
  try {
    const out = step();
    return out instanceof Promise ? (out.catch(name) as T) : out;
  } catch (err) {
    return name(err);
  }
}
