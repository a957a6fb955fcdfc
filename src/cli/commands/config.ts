import { existsSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { CONFIG_FILE_NAME } from "../../config/load.js";
import { UserError } from "../errors.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

interface InitOptions {
  coordinator: boolean;
  node: boolean;
  file?: string;
  force: boolean;
}

/** The coordinator's side: every key with its default, commented, so the file documents itself. */
export const COORDINATOR_TEMPLATE = `# coordination.yaml for the coordinator (multiclaude-coord serve).
# Every value below is the default unless said; \${VAR} and \${VAR:-default} are expanded.
server:
  listen_addr: ":7331"              # every interface; "127.0.0.1:7331" keeps it to this machine
  log_level: info                   # request log on stderr: info = changes and errors, debug = every request
  auth:
    require_auth: true
    tokens:                         # none: serve creates an admin token in ~/.multiclaude/coordination-token
      # an entry whose token expands to nothing is skipped (with a warning)
      - "\${COORD_ADMIN_TOKEN:-}"                                    # a plain string is an admin token
      - { token: "\${COORD_NODE_TOKEN:-}", role: node, name: nodes }  # nodes: register, claim, report
      - { token: "\${COORD_READ_TOKEN:-}", role: read, name: dashboard }
  # tls: { cert_file: /etc/coord/cert.pem, key_file: /etc/coord/key.pem }
  # rate_limit: { requests_per_second: 50, burst: 100 }
  # audit: { file: /var/log/multiclaude-coord/audit.log }
registration:
  heartbeat_interval: 30s           # how often nodes are asked to heartbeat
  offline_threshold: 90s            # no heartbeat for this long: the node is offline
tasks:
  default_priority: medium          # critical, high, medium or low
  claim_timeout: 5m                 # a claim's lease; every heartbeat of its node renews it
  max_attempts: 3                   # claims before a task fails for good
# store: sqlite:///var/lib/multiclaude-coord/coordination.db  # default: ~/.multiclaude/coordination.db; or memory://, redis://HOST:6379/0, redis+sentinel://HOST:26379,HOST:26379/MASTER/0
events:
  retention: 10000                  # events kept for resuming streams
`;

/** A node's side: where the coordinator is and what this machine offers. */
export function nodeTemplate(nodeId: string): string {
  return `# coordination.yaml for a node (multiclaude-coord register / agent / tasks claim).
# \${VAR} and \${VAR:-default} are expanded; flags and MULTICLAUDE_COORD_* variables win over this file.
coordination:
  server_url: "http://coordinator.internal:7331"   # the coordinator's URL (MULTICLAUDE_COORD_URL)
  token: "\${COORD_NODE_TOKEN:-}"                  # a token with the node role (or MULTICLAUDE_COORD_TOKEN)
  node_id: ${nodeId}                                # default: the hostname
  labels:                                          # tasks may require labels; this node offers these
    pool: cpu
  max_workers: 1                                   # claims held at once, 0-1024 (0: watch, never claim)
  # ca_file: /etc/coord/ca.pem                     # TLS: the coordinator's CA (and cert_file/key_file for mTLS)
  # timeout: 30s                                   # per request
  # agent:                                         # multiclaude-coord agent (docs/agent.md)
  #   repos: { web: my-org/web }                   # coordinator repo name: multiclaude repo
  #   grace_period: 5m
`;
}

/** `config init --coordinator|--node`: writes a commented coordination.yaml to start from. */
export function registerConfig(program: Command, run: Runner): void {
  const config = program.command("config").description("Write a starting configuration file");
  config
    .command("init")
    .description(`Write a commented ${CONFIG_FILE_NAME} for a coordinator or a node (in the working directory unless --file)`)
    .option("--coordinator", "the coordinator's side (server, registration, tasks, store)", false)
    .option("--node", "a node's side (coordination: URL, token, labels, workers)", false)
    .option("--file <path>", `where to write it (default ./${CONFIG_FILE_NAME})`)
    .option("--force", "overwrite an existing file", false)
    .addHelpText("after", examples("config init --coordinator", "config init --node --file ~/.multiclaude/coordination.yaml"))
    .action(
      run<InitOptions>(async (ctx, opts) => {
        if (opts.coordinator === opts.node) throw new UserError("give --coordinator or --node (one of them)");
        const file = resolve(ctx.io.cwd, opts.file ?? CONFIG_FILE_NAME);
        if (existsSync(file) && !opts.force) throw new UserError(`${file} exists; pass --force to overwrite it`);
        const text = opts.coordinator ? COORDINATOR_TEMPLATE : nodeTemplate(hostname().replace(/[^A-Za-z0-9._-]/g, "-") || "my-node");
        try {
          writeFileSync(file, text, { mode: 0o600 });
        } catch (err) {
          throw new UserError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
        }
        ctx.out.result({ file, role: opts.coordinator ? "coordinator" : "node" }, (r) => ctx.out.success(`wrote ${r.file} (${r.role}); edit it, then run \`multiclaude-coord doctor\``));
      }),
    );
}
