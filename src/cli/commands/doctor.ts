import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { Command } from "commander";
import type { Client } from "../../client/client.js";
import { ApiError } from "../../client/errors.js";
import { multiclaudeHome } from "../../config/paths.js";
import type { CommandContext } from "../context.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

/** One line of `doctor`: what was checked, whether it holds, and what was found. */
export interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

/** A clock this far from the coordinator's makes "3s ago" and lease times misleading. */
const MAX_SKEW_SECONDS = 30;

/** The first executable `name` on PATH, if any. */
export function onPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function configCheck(ctx: CommandContext): Promise<Check> {
  try {
    const config = await ctx.config();
    return { check: "config", ok: true, detail: config.source ? `read ${config.source}` : "no config file; defaults, environment and flags" };
  } catch (err) {
    return { check: "config", ok: false, detail: (err as Error).message };
  }
}

const TOKEN_SOURCES: Record<string, string> = {
  flag: "from --token",
  env: "from $MULTICLAUDE_COORD_TOKEN",
  config: "from coordination.token",
  "token-file": "from ~/.multiclaude/coordination-token (the one serve created)",
};

/** Reachability and TLS (GET /health), then the token (GET /status), then the clock against the Date header. */
async function coordinatorChecks(client: Client): Promise<Check[]> {
  const t = client.transport;
  const started = Date.now();
  let date: string | undefined;
  try {
    const res = await t.pool.request({ method: "GET", path: t.path("/health"), headers: t.headers(), headersTimeout: t.options.timeoutMs, bodyTimeout: t.options.timeoutMs });
    await res.body.text();
    if (res.statusCode !== 200) return [{ check: "coordinator", ok: false, detail: `${client.url} answered GET /health with ${res.statusCode}: not a coordinator?` }];
    date = typeof res.headers.date === "string" ? res.headers.date : undefined;
  } catch (err) {
    // Refused, DNS, timeouts and TLS failures (unknown CA, expired, wrong host), in words.
    return [{ check: "coordinator", ok: false, detail: t.connectionError(err).message }];
  }
  const ms = Date.now() - started;
  const secure = client.url.startsWith("https:");
  const checks: Check[] = [{ check: "coordinator", ok: true, detail: `${client.url} answers (${ms} ms${secure ? ", TLS verified" : ", plain HTTP"})` }];
  try {
    const status = await client.status();
    checks.push({ check: "auth", ok: true, detail: `token accepted (coordinator ${status.version}, store ${status.store})` });
  } catch (err) {
    const detail = err instanceof ApiError ? `${err.message} (${err.code})` : (err as Error).message;
    checks.push({ check: "auth", ok: false, detail });
  }
  const server = date ? Date.parse(date) : NaN;
  if (Number.isNaN(server)) checks.push({ check: "clock", ok: false, detail: "the coordinator sent no Date header" });
  else {
    // The Date header has whole seconds: compare with the middle of the request, allow 1s.
    const skew = Math.round((server + 500 - (started + ms / 2)) / 1000);
    const ok = Math.abs(skew) <= MAX_SKEW_SECONDS;
    checks.push({ check: "clock", ok, detail: skew === 0 ? "in step with the coordinator" : `${Math.abs(skew)}s ${skew > 0 ? "behind" : "ahead of"} the coordinator${ok ? "" : ` (more than ${MAX_SKEW_SECONDS}s: fix NTP)`}` });
  }
  return checks;
}

function toolCheck(name: string, why: string, path: string | undefined): Check {
  const found = onPath(name, path);
  return { check: name, ok: found !== undefined, detail: found ? found : `not on PATH (${why})` };
}

function stateCheck(home: string): Check {
  const file = join(home, "state.json");
  try {
    JSON.parse(readFileSync(file, "utf8"));
    return { check: "state.json", ok: true, detail: `${file} readable` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { check: "state.json", ok: false, detail: `${file} does not exist (has multiclaude run on this machine?)` };
    return { check: "state.json", ok: false, detail: `${file}: ${code ?? `not JSON: ${(err as Error).message}`}` };
  }
}

/** Every check, in order; later ones are skipped when what they need failed. */
export async function runChecks(ctx: CommandContext): Promise<Check[]> {
  const checks = [await configCheck(ctx)];
  if (checks[0]!.ok) {
    const cc = await ctx.clientConfig();
    checks.push(
      cc.token
        ? { check: "token", ok: true, detail: TOKEN_SOURCES[cc.token_source] ?? cc.token_source }
        : { check: "token", ok: false, detail: "no token: pass --token, set MULTICLAUDE_COORD_TOKEN or coordination.token" },
    );
    try {
      checks.push(...(await coordinatorChecks(await ctx.client())));
    } catch (err) {
      // The client could not be built (an unreadable ca_file, say): that is the finding.
      checks.push({ check: "coordinator", ok: false, detail: (err as Error).message });
    }
  }
  const config = checks[0]!.ok ? await ctx.config() : undefined;
  checks.push(toolCheck("multiclaude", "the agent starts workers with it", ctx.env.PATH));
  checks.push(toolCheck("gh", "multiclaude opens pull requests with it", ctx.env.PATH));
  checks.push(stateCheck(config?.coordination.agent.multiclaude_home ?? multiclaudeHome(ctx.env)));
  return checks;
}

/** `doctor`: one line per check, exit 1 if any fails. */
export function registerDoctor(program: Command, run: Runner): void {
  program
    .command("doctor")
    .description("Check this machine's setup: config, token, coordinator reachability and TLS, clock skew, multiclaude and gh, state.json")
    .addHelpText("after", examples("doctor", "doctor --url https://coord.example.com:7331 --json"))
    .action(
      run<Record<string, never>>(async (ctx) => {
        const checks = await runChecks(ctx);
        ctx.out.result({ ok: checks.every((c) => c.ok), checks }, (r) => {
          const width = Math.max(...r.checks.map((c) => c.check.length));
          for (const c of r.checks) ctx.out.line(`${c.ok ? ctx.out.c.green("✓") : ctx.out.c.red("✗")} ${c.check.padEnd(width)}  ${c.detail}`);
        });
        return checks.every((c) => c.ok) ? 0 : 1;
      }),
    );
}
