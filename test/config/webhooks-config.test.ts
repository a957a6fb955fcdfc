import { describe, expect, it } from "vitest";
import { normalizeConfig } from "../../src/config/index.js";
import { parse } from "yaml";

function read(yaml: string) {
  const problems: string[] = [];
  const config = normalizeConfig(parse(yaml), {}, problems);
  return { config, problems };
}

describe("webhooks: config", () => {
  it("reads name, url, event globs, repo filter, format, secret and from, with the defaults", () => {
    const { config, problems } = read(`
webhooks:
  - name: slack-team
    url: https://hooks.slack.com/services/T/B/X
    events: ["task.completed", "task.failed", "node.offline"]
    repo: my-repo
    format: slack
    secret: s3cret
  - name: ci
    url: http://127.0.0.1:9000/hook
    events: "task.*"
    from: oldest
server:
  webhooks: { lease: 5s, retry_initial: 200ms, retry_max: 2s }
`);
    expect(problems).toEqual([]);
    expect(config.server.webhooks).toEqual([
      { name: "slack-team", url: "https://hooks.slack.com/services/T/B/X", events: ["task.completed", "task.failed", "node.offline"], repo: "my-repo", format: "slack", secret: "s3cret", from: "end" },
      { name: "ci", url: "http://127.0.0.1:9000/hook", events: ["task.*"], format: "json", from: "oldest" },
    ]);
    expect(config.server.webhook_tuning).toMatchObject({ leaseMs: 5000, retryBaseMs: 200, retryMaxMs: 2000, timeoutMs: 10_000, retryForMs: 86_400_000 });
    expect(read("").config.server.webhooks).toEqual([]);
  });

  it("names every problem on its own line, and never echoes the URL", () => {
    const { problems } = read(`
webhooks:
  - name: a
    url: ftp://secret-host/path?token=abc
    events: [task.done]
    format: xml
    from: newest
    colour: red
  - name: a
    url: http://x
  - url: http://y
  - just-a-string
`);
    expect(problems).toEqual([
      "webhooks[0].colour: unknown key (expected one of name, url, events, repo, format, secret, from)",
      "webhooks[0].from: expected oldest or end, got \"newest\"",
      "webhooks[0].url: expected an http:// or https:// URL",
      expect.stringMatching(/^webhooks\[0\]\.events: "task\.done" matches no event type/),
      "webhooks[0].format: expected one of json, slack, got \"xml\"",
      "webhooks[1].name: \"a\" is used by another webhook",
      "webhooks[2].name: is required: 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)",
      "webhooks[3]: expected a mapping with name and url",
    ]);
    expect(problems.join("\n")).not.toContain("secret-host");
  });
});
