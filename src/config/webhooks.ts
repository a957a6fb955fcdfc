import { EVENT_TYPES } from "../core/types.js";
import { parseTypeGlobs } from "../core/events.js";
import { DEFAULT_WEBHOOK_TUNING, type WebhookConfig, type WebhookTuning } from "../webhooks/types.js";
import { SectionReader } from "./reader.js";

/** At most this many webhooks: each holds one delivery loop and one connection. */
export const MAX_WEBHOOKS = 50;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `events:` as a list of globs (or one comma-separated string); each must match some event type. */
function readEvents(hook: SectionReader): string[] | undefined {
  const raw = hook.raw.events;
  if (raw === undefined || raw === null) return undefined;
  const list = typeof raw === "string" ? raw.split(",") : raw;
  if (!Array.isArray(list) || !list.every((g) => typeof g === "string")) {
    hook.problem("events", "expected a list of event types or globs such as task.completed, task.*, *");
    return undefined;
  }
  const globs = (list as string[]).map((g) => g.trim()).filter(Boolean);
  for (const g of globs) {
    try {
      parseTypeGlobs(g);
    } catch {
      hook.problem("events", `"${g}" matches no event type (known: ${EVENT_TYPES.join(", ")})`);
      return undefined;
    }
  }
  return globs.length && !globs.includes("*") ? globs : undefined;
}

function readUrl(hook: SectionReader): string {
  const url = hook.string("url");
  if (!url) {
    hook.problem("url", "is required (an http:// or https:// URL)");
    return "";
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // Never echo the URL: a Slack webhook URL is itself a secret.
  if (!parsed || !/^https?:$/.test(parsed.protocol) || !parsed.hostname) hook.problem("url", "expected an http:// or https:// URL");
  return url;
}

/** The `webhooks:` list (DESIGN §12), one line per problem (`webhooks[1].url: ...`). */
export function readWebhooks(root: SectionReader): WebhookConfig[] {
  const raw = root.raw.webhooks;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    root.problem("webhooks", "expected a list of webhooks (- name: ..., url: ...)");
    return [];
  }
  if (raw.length > MAX_WEBHOOKS) root.problem("webhooks", `at most ${MAX_WEBHOOKS} webhooks, got ${raw.length}`);
  const seen = new Set<string>();
  const out: WebhookConfig[] = [];
  raw.forEach((item: unknown, i) => {
    const key = `webhooks[${i}]`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      root.problems.push(`${key}: expected a mapping with name and url`);
      return;
    }
    const hook = new SectionReader(item as Record<string, unknown>, key, root.problems);
    hook.rejectUnknown(["name", "url", "events", "repo", "format", "secret", "from"]);
    const name = hook.string("name") ?? "";
    if (!NAME.test(name)) hook.problem("name", "is required: 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)");
    else if (seen.has(name)) hook.problem("name", `"${name}" is used by another webhook`);
    seen.add(name);
    const from = hook.string("from");
    if (from !== undefined && from !== "oldest" && from !== "end") hook.problem("from", `expected oldest or end, got ${JSON.stringify(from)}`);
    const secret = hook.string("secret");
    const repo = hook.string("repo");
    out.push({
      name,
      url: readUrl(hook),
      events: readEvents(hook),
      ...(repo ? { repo } : {}),
      format: hook.oneOf("format", ["json", "slack"] as const, "json"),
      ...(secret ? { secret } : {}),
      from: from === "oldest" ? "oldest" : "end",
    });
  });
  return out;
}

/** `server.webhooks`: delivery timings (DESIGN §12 values by default). */
export function readWebhookTuning(server: SectionReader): WebhookTuning {
  const d = DEFAULT_WEBHOOK_TUNING;
  const s = server.section("webhooks");
  s.rejectUnknown(["lease", "timeout", "retry_initial", "retry_max", "retry_for"]);
  const tuning: WebhookTuning = {
    ...d,
    leaseMs: s.duration("lease", d.leaseMs),
    timeoutMs: s.duration("timeout", d.timeoutMs),
    retryBaseMs: s.duration("retry_initial", d.retryBaseMs),
    retryMaxMs: s.duration("retry_max", d.retryMaxMs),
    retryForMs: s.duration("retry_for", d.retryForMs),
  };
  if (tuning.retryMaxMs < tuning.retryBaseMs) s.problem("retry_max", "must be at least server.webhooks.retry_initial");
  return tuning;
}
