import { Option, type Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { resolveServerConfig } from "../../config/overrides.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

export interface ServeOptions {
  listen?: string;
  store?: string;
  logLevel?: string;
  insecure: boolean;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** `serve`: the only command that runs the coordinator itself; the rest go through the client. */
export function registerServe(program: Command, run: Runner): void {
  program
    .command("serve")
    .description("Run the coordination server (REST API, SSE events, store)")
    .addHelpText("after", examples("serve", "serve --listen 127.0.0.1:7331 --store sqlite:///var/lib/coord.db", "serve --config /etc/multiclaude/coordination.yaml --log-level debug"))
    .option("--listen <host:port>", "address to listen on, e.g. :7331 or 127.0.0.1:7331 (default from server.listen_addr)")
    .option("--store <url>", "store: sqlite://PATH, memory://, redis://HOST:PORT/DB or redis+sentinel://HOST:PORT,…/MASTER/DB (default from store)")
    .addOption(new Option("--log-level <level>", "request log on stderr (pino JSON lines): info = one line per change or error, debug = every request (default from server.log_level, info; none without a config file)").choices(LOG_LEVELS))
    .option("--insecure", "allow a non-loopback address with server.auth.require_auth false", false)
    .action(
      run<ServeOptions>(async (ctx, opts) => {
        const config = await ctx.config();
        for (const warning of config.warnings) ctx.out.warn(warning);
        const server = resolveServerConfig(config, { listen: opts.listen, store: opts.store });
        const signal = ctx.interruptSignal();
        // Loaded here: the server (fastify, stores) would slow every other command's start.
        const { startServer } = await import("../../server/serve.js");
        const running = await startServer(server, {
          log: (line) => ctx.out.info(line),
          env: ctx.env,
          insecure: opts.insecure,
          logLevel: opts.logLevel ?? (config.source ? server.log_level : "silent"),
        });
        // SIGHUP re-reads the config file: tokens, rate limits and webhooks change without a restart.
        // Installed before the address is printed: a supervisor may signal as soon as it reads it.
        const onHup = () => {
          loadConfig({ configPath: ctx.globals.config, cwd: ctx.io.cwd, env: ctx.env })
            .then((fresh) => running.reload(resolveServerConfig(fresh, { listen: opts.listen, store: opts.store })))
            .then(({ webhooks: w }) => {
              const changes = [["added", w.added], ["removed", w.removed], ["changed", w.changed]] as const;
              const said = changes.filter(([, names]) => names.length).map(([what, names]) => `${what} ${names.join(", ")}`);
              ctx.out.info(`configuration reloaded (tokens, rate limits, webhooks${said.length ? `: ${said.join("; ")}` : ""})`);
            })
            .catch((err: unknown) => ctx.out.warn(`reload failed, keeping the running configuration: ${(err as Error).message}`));
        };
        process.on("SIGHUP", onHup);
        const info = {
          url: running.url,
          listen: running.listen,
          every_interface: running.everyInterface,
          port: running.port,
          version: running.version,
          store: running.store,
          token_file: running.tokenFile ?? null,
          config: config.source ?? null,
        };
        ctx.out.result(info, (r) => {
          // What was really bound; on every interface, also the URL to use from this machine.
          if (r.every_interface) {
            const scheme = r.url.slice(0, r.url.indexOf("://"));
            ctx.out.line(`listening on ${ctx.out.c.bold(`${scheme}://${r.listen}`)} (every interface; from this machine ${r.url})`);
          } else ctx.out.line(`listening on ${ctx.out.c.bold(r.url)}`);
          ctx.out.line(`multiclaude-coord ${r.version}, store ${r.store}${r.config ? `, config from ${r.config}` : ""}`);
          if (r.token_file) ctx.out.line(`${running.tokenCreated ? "created " : ""}admin token in ${r.token_file}`);
        });
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        process.off("SIGHUP", onHup);
        ctx.out.info("shutting down");
        await running.close();
        // Shut down (or past its deadline): a handle left behind by a store that is gone must
        // not keep the process alive.
        setTimeout(() => process.exit(), 1000).unref();
        return 0;
      }),
    );
}
