import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { ApiError } from "../../client/errors.js";
import type { CreateTaskRequest } from "../../client/types.js";
import type { CommandContext } from "../context.js";
import { EXIT, UserError } from "../errors.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

/** Tasks per `POST /tasks/batch` (the route takes up to 1,000). */
export const IMPORT_BATCH = 500;
/** Bytes of JSON per batch, well under the route's 8 MiB body limit; a batch of long descriptions is cut sooner. */
const IMPORT_BATCH_BYTES = 4 * 1024 * 1024;

interface ImportLine {
  /** 1-based line number in the file. */
  line: number;
  task: CreateTaskRequest;
  bytes: number;
}

async function readInput(ctx: CommandContext, file: string): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.io.stdin ?? process.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Every line checked against the same schema as `POST /tasks` bodies before anything is sent,
 * so a bad line sends nothing. Blank lines are skipped; unknown fields are dropped with a warning
 * (as the coordinator would).
 */
async function parseLines(ctx: CommandContext, text: string, name: string): Promise<ImportLine[]> {
  // Loaded only here: no other command needs the server's schemas.
  const [{ CreateTaskBody }, { ignoringUnknownFields, strictBodyAjv, strippedFields }, { validationFields }] = await Promise.all([
    import("../../server/schemas.js"),
    import("../../server/unknown-fields.js"),
    import("../../server/errors.js"),
  ]);
  const validate = ignoringUnknownFields(strictBodyAjv().compile(CreateTaskBody));
  const unknown = new Map<string, number>();
  const out: ImportLine[] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const src = raw.trim();
    if (src === "") continue;
    const bad = (message: string) => new UserError(`${name}:${line}: ${message}; nothing was imported`);
    let task: unknown;
    try {
      task = JSON.parse(src);
    } catch {
      throw bad("not valid JSON (one task object per line)");
    }
    if (!task || typeof task !== "object" || Array.isArray(task)) throw bad("expected a JSON object (a POST /tasks body)");
    if (!validate(task)) {
      const fields = validationFields(validate.errors as never, "body");
      throw bad(fields.map((f) => `${f.field.replace(/^body\.?/, "") || "task"}: ${f.message}`).join("; "));
    }
    for (const field of strippedFields(task)) if (!unknown.has(field)) unknown.set(field, line);
    out.push({ line, task: task as CreateTaskRequest, bytes: Buffer.byteLength(src) });
  }
  for (const [field, line] of unknown) ctx.out.warn(`${name}:${line}: unknown field ${field.replace(/^body\./, "")} ignored (and on any later line)`);
  return out;
}

/** Consecutive lines in batches of at most IMPORT_BATCH tasks and IMPORT_BATCH_BYTES. */
function batches(lines: ImportLine[]): ImportLine[][] {
  const out: ImportLine[][] = [];
  let current: ImportLine[] = [];
  let bytes = 0;
  for (const l of lines) {
    if (current.length > 0 && (current.length >= IMPORT_BATCH || bytes + l.bytes > IMPORT_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(l);
    bytes += l.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A progress bar on stderr, redrawn in place; only for a human at a terminal. */
function progressBar(ctx: CommandContext, total: number) {
  const stderr = ctx.io.stderr;
  const shown = !ctx.out.json && stderr.isTTY === true;
  const draw = (done: number) => {
    const width = Math.max(10, Math.min(40, (stderr.columns ?? 80) - 40));
    const full = total === 0 ? width : Math.round((done / total) * width);
    stderr.write(`\r\x1b[2Kimporting [${"#".repeat(full)}${".".repeat(width - full)}] ${done}/${total} tasks`);
  };
  if (shown) draw(0);
  return {
    update: (done: number) => shown && draw(done),
    end: () => shown && stderr.write("\r\x1b[2K"),
  };
}

/** `tasks import FILE.jsonl|-`: bulk create through `POST /tasks/batch`. */
export function registerTaskImport(tasks: Command, run: Runner): void {
  tasks
    .command("import")
    .description("Create tasks from a JSON Lines file (one POST /tasks body per line), 500 per request")
    .argument("<file>", "a .jsonl file, or - for stdin")
    .addHelpText(
      "after",
      examples("tasks import backlog.jsonl", "jq -c '.[]' export.json | tasks import -", "tasks import backlog.jsonl --json") +
        "\nEvery line is checked before anything is sent, so a bad line imports nothing. Each batch of 500 is\n" +
        "one atomic request: if the coordinator refuses one (a reused idempotency_key), the batches before it\n" +
        "stay created; with an idempotency_key on every line a second run skips those.\n",
    )
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, file) => {
        const name = file === "-" ? "stdin" : file;
        const lines = await parseLines(ctx, await readInput(ctx, file), name);
        const client = await ctx.client();
        const progress = progressBar(ctx, lines.length);
        const results: { line: number; id: string; created: boolean }[] = [];
        try {
          for (const batch of batches(lines)) {
            let answer;
            try {
              answer = await client.createTasks(batch.map((l) => l.task));
            } catch (err) {
              const index = err instanceof ApiError ? err.details.index : undefined;
              if (!(err instanceof ApiError) || typeof index !== "number" || !batch[index]) throw err;
              const before = results.length ? `; the ${results.length} tasks of earlier lines were imported` : "";
              throw new UserError(`${name}:${batch[index].line}: ${err.message.replace(/^tasks\[\d+\]: /, "")} (${err.code})${before}`, err.status === 409 ? EXIT.CONFLICT : EXIT.USAGE);
            }
            answer.tasks.forEach((t, i) => results.push({ line: batch[i]!.line, id: t.id, created: answer.created[i]! }));
            progress.update(results.length);
          }
        } finally {
          progress.end();
        }
        const existed = results.filter((r) => !r.created).length;
        const summary = { file: name, imported: results.length, created: results.length - existed, existed, tasks: results };
        ctx.out.result(summary, (s) => ctx.out.line(`imported ${s.imported} tasks (${s.existed} already existed) from ${s.file}`));
      }),
    );
}
