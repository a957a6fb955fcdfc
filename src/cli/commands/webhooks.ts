import type { Command } from "commander";
import type { WebhookList, WebhookTestResult } from "../../client/types.js";
import { ago } from "../output/format.js";
import { examples } from "../help.js";
import type { Runner } from "../runner.js";

/** `webhooks [list]` and `webhooks test NAME` (admin; DESIGN §12). */
export function registerWebhooks(program: Command, run: Runner): void {
  const webhooks = program.command("webhooks").description("Show webhook deliveries (position, lag, last error) or send a test event");
  webhooks
    .command("list", { isDefault: true })
    .description("List the coordinator's webhooks: position, lag, last status and error, skipped events, which replica delivers")
    .addHelpText("after", examples("webhooks", "webhooks -o wide", "webhooks --json"))
    .action(
      run<Record<string, never>>(async (ctx) => {
        const client = await ctx.client();
        const list = await client.listWebhooks();
        ctx.out.result(list, (r: WebhookList) => {
          ctx.out.table(
            [
              "NAME",
              "HOST",
              "FORMAT",
              "POSITION",
              "LAG",
              "LAST",
              "DELIVERED",
              "SKIPPED",
              { title: "EVENTS", wide: true },
              { title: "REPO", wide: true },
              { title: "REPLICA", wide: true },
              { title: "LAST ERROR", flex: true },
            ],
            r.webhooks.map((w) => [
              w.name,
              w.url_host,
              w.format,
              w.position,
              w.lag,
              w.last_status === null ? "-" : `${w.last_status}${w.last_delivery_at ? ` (${ago(w.last_delivery_at)})` : ""}`,
              w.delivered,
              w.skipped,
              w.events.join(","),
              w.repo ?? "-",
              w.lease_owner ?? "-",
              w.last_error ?? "-",
            ]),
            "no webhooks configured (see docs/webhooks.md)",
          );
        });
      }),
    );
  webhooks
    .command("test")
    .description("Send one webhook.test event to a webhook now, through the coordinator; exit 1 when the receiver does not answer 2xx")
    .argument("<name>", "the webhook's name (from the coordinator's webhooks: config)")
    .addHelpText("after", examples("webhooks test slack-team"))
    .action(
      run<Record<string, never>, [string]>(async (ctx, _opts, name) => {
        const client = await ctx.client();
        const res = await client.testWebhook(name);
        ctx.out.result(res, (r: WebhookTestResult) => {
          ctx.out.line(r.ok ? `${r.name}: delivered (HTTP ${r.status}, ${r.duration_ms} ms)` : `${r.name}: not delivered: ${r.error}`);
        });
        return res.ok ? 0 : 1;
      }),
    );
}
