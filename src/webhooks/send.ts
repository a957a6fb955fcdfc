import { Agent, request } from "undici";
import type { WebhookRequest } from "./payload.js";

/** How one attempt ended: the HTTP status when there was an answer, the error otherwise. */
export interface SendOutcome {
  ok: boolean;
  status: number | null;
  error: string | null;
}

/** At most this much of an error answer is kept as the webhook's last error. */
const ERROR_BODY_CHARS = 200;

/**
 * POSTs webhook requests through a connection pool of their own (off the request path of the
 * API: a slow receiver holds only its own connection). The timeout covers the whole attempt.
 */
export function createSender(timeoutMs: number) {
  // Per origin: each webhook has at most one request in flight, so several webhooks on one host
  // (hooks.slack.com) never wait for each other's connection; bounded like the webhook list.
  const agent = new Agent({ connections: 64, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs });
  return {
    async send(url: string, req: WebhookRequest, signal?: AbortSignal): Promise<SendOutcome> {
      const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
      try {
        const res = await request(url, {
          method: "POST",
          body: req.body,
          headers: req.headers,
          dispatcher: agent,
          signal: AbortSignal.any(signals),
          maxRedirections: 0,
        } as Parameters<typeof request>[1]);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        if (ok) {
          await res.body.dump();
          return { ok, status: res.statusCode, error: null };
        }
        const text = await readSome(res.body);
        return { ok, status: res.statusCode, error: `HTTP ${res.statusCode}${text ? `: ${text}` : ""}` };
      } catch (err) {
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        const timedOut = e.name === "TimeoutError" || e.name === "AbortError" || /timeout/i.test(e.code ?? "");
        const what = timedOut ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.code ?? e.code ?? e.message);
        return { ok: false, status: null, error: String(what) };
      }
    },
    close: () => agent.close(),
  };
}

export type Sender = ReturnType<typeof createSender>;

/** The start of an answer's body, on one line (a receiver's reason for refusing). */
async function readSome(body: AsyncIterable<Buffer> & { dump(): Promise<void> }): Promise<string> {
  let text = "";
  for await (const chunk of body) {
    text += chunk.toString("utf8");
    if (text.length >= ERROR_BODY_CHARS) break;
  }
  await body.dump().catch(() => {});
  return text.replace(/\s+/g, " ").trim().slice(0, ERROR_BODY_CHARS);
}
