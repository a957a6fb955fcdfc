export type LogLevel = "info" | "warn" | "error";

/** Extra facts of one log line (task id, worker, repo ...); undefined values are left out. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * What the agent says about itself: one line per claim, start, finish, message and problem.
 * `event` is a stable machine name (`task.claimed`, `worker.started` ...), `message` the human text.
 */
export interface AgentLogger {
  log(level: LogLevel, event: string, message: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /** Where lines go (stderr for the CLI: stdout stays free for other tools). */
  stream: { write(chunk: string): unknown };
  /** One JSON object per line instead of human text. */
  json: boolean;
  now?: () => Date;
}

function clean(fields: LogFields | undefined): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(fields ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

/** Multi-line text (a worker's stderr, say) stays on one log line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ⏎ ");
}

/**
 * Human lines (`2026-01-20T10:30:00.000Z info  claimed task-1 ...`) or JSON lines
 * (`{"ts":..., "level":"info", "event":"task.claimed", "msg":..., "task_id":...}`).
 */
export function createLogger(options: LoggerOptions): AgentLogger {
  const now = options.now ?? (() => new Date());
  return {
    log(level, event, message, fields) {
      const ts = now().toISOString();
      if (options.json) {
        options.stream.write(`${JSON.stringify({ ts, level, event, msg: message, ...clean(fields) })}\n`);
        return;
      }
      options.stream.write(`${ts} ${level.padEnd(5)} ${oneLine(message)}\n`);
    },
  };
}

/** A logger that drops everything (library use without output). */
export const silentLogger: AgentLogger = { log() {} };
