import { Pool, type Dispatcher } from "undici";
import { ApiError, codeForStatus, ConnectionError } from "./errors.js";

/** When a request may be sent again after a failure. */
export type RetryPolicy =
  /** The request has no effect or the same effect twice (GET, heartbeat, keyed create). */
  | "safe"
  /** Only when the server provably did not process it: refused connection, 429, 503 with `details.retry_safe`. */
  | "unsafe";

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  retry?: RetryPolicy;
  /** Extra time for long polls, added to the normal timeout. */
  extraTimeoutMs?: number;
  signal?: AbortSignal;
  /** Told before each resend, with the error that caused it. */
  onRetry?: (err: unknown, attempt: number) => void;
}

export interface TransportOptions {
  url: string;
  token?: string;
  timeoutMs: number;
  retries: number;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  userAgent: string;
  /** Told of each `Warning` header's text (`299 - "text"` → `text`). */
  onWarning?: (warning: string) => void;
}

/** The texts of `Warning` headers: `299 - "unknown field body.x"` → `unknown field body.x`. */
export function parseWarnings(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const texts: string[] = [];
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const m of v.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) texts.push(m[1]!.replace(/\\(.)/g, "$1"));
  }
  return texts;
}

const MAX_RETRY_AFTER_MS = 30_000;
/** Errors after which the request surely never reached the server. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Exponential backoff with full jitter: ~200ms, 400ms, 800ms ... capped at 5s. */
export function backoffMs(attempt: number): number {
  const cap = Math.min(5000, 200 * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}

/** What the usual connection failures mean, for a one-line message a person can act on. */
const CONNECTION_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  SELF_SIGNED_CERT_IN_CHAIN: "its TLS certificate is not trusted (set coordination.ca_file to the CA that signed it)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its TLS certificate is self-signed and not trusted (set coordination.ca_file)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its TLS certificate cannot be verified (set coordination.ca_file)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its TLS certificate cannot be verified (set coordination.ca_file)",
  CERT_HAS_EXPIRED: "its TLS certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "its TLS certificate does not name this host",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "it requires a client certificate (set coordination.cert_file and key_file)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "it refused our client certificate",
  ERR_SSL_WRONG_VERSION_NUMBER: "it does not speak TLS (use http://)",
  EPROTO: "TLS handshake failed",
  // With TLS 1.3 a server that wants a client certificate hangs up after the handshake.
  UND_ERR_SOCKET: "it closed the connection (if it requires client certificates: set coordination.cert_file and key_file)",
};

/** Parses `Retry-After` (seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string }; errors?: { code?: string }[] };
  return e?.code ?? e?.cause?.code ?? e?.errors?.[0]?.code;
}

/**
 * Whether an error answer allows sending the request again. A 429 comes before any work (rate
 * limits are checked first), so anything may be resent. A 503 `UNAVAILABLE` may come after the
 * change was committed (the store failed on the way back), so a request that must not happen
 * twice is resent only when the server says it refused before doing anything
 * (`details.retry_safe: true`, e.g. while shutting down). Safe requests are resent on 502/503/504.
 */
function retriable(err: ApiError, retry: RetryPolicy): boolean {
  if (err.status === 429) return true;
  if (retry === "safe") return err.status === 502 || err.status === 503 || err.status === 504;
  return err.status === 503 && err.details.retry_safe === true;
}

/**
 * HTTP to one coordinator over one keep-alive undici Pool: auth header, JSON envelope,
 * timeouts, and retries where they cannot do harm.
 */
export class Transport {
  readonly baseUrl: string;
  readonly basePath: string;
  readonly pool: Pool;
  private closing?: Promise<void>;

  constructor(readonly options: TransportOptions) {
    const url = new URL(options.url);
    this.baseUrl = url.origin;
    // Accept `http://host:7331`, `http://host:7331/api/v1` and reverse-proxy prefixes.
    this.basePath = url.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "") + "/api/v1";
    this.pool = new Pool(url.origin, {
      connections: 16,
      keepAliveTimeout: 30_000,
      connect: options.tls ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key } : undefined,
    });
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { "user-agent": this.options.userAgent, accept: "application/json", ...extra };
    if (this.options.token) h.authorization = `Bearer ${this.options.token}`;
    return h;
  }

  path(path: string, query?: RequestOptions["query"]): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") qs.set(k, String(v));
    const s = qs.toString();
    return `${this.basePath}${path}${s ? `?${s}` : ""}`;
  }

  /** Sends a request and returns the envelope's `data`; throws ApiError or ConnectionError. */
  async request<T>(method: "GET" | "POST" | "DELETE", path: string, options: RequestOptions = {}): Promise<T> {
    const retry = options.retry ?? (method === "GET" ? "safe" : "unsafe");
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, options);
      } catch (err) {
        const wait = this.retryDelay(err, retry, attempt);
        if (wait === undefined || options.signal?.aborted) throw err;
        options.onRetry?.(err, attempt + 1);
        await sleep(wait, options.signal);
      }
    }
  }

  /** How long to wait before retrying, or undefined to give up. */
  private retryDelay(err: unknown, retry: RetryPolicy, attempt: number): number | undefined {
    if (attempt >= this.options.retries) return undefined;
    if (err instanceof ApiError) {
      if (!retriable(err, retry)) return undefined;
      if (err.retryAfterSeconds !== undefined) return Math.min(err.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
      return backoffMs(attempt);
    }
    if (err instanceof ConnectionError) {
      if (err.code === "TIMEOUT") return undefined; // the caller's time budget is spent
      const code = errorCode(err.cause);
      if (retry === "safe" || (code !== undefined && NOT_SENT.has(code))) return backoffMs(attempt);
    }
    return undefined;
  }

  private async once<T>(method: "GET" | "POST" | "DELETE", path: string, options: RequestOptions): Promise<T> {
    const timeoutMs = this.options.timeoutMs + (options.extraTimeoutMs ?? 0);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let res: Dispatcher.ResponseData | undefined;
    try {
      res = await this.pool.request({
        method,
        path: this.path(path, options.query),
        headers: this.headers(body !== undefined ? { "content-type": "application/json" } : {}),
        body,
        signal: controller.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const text = await res.body.text();
      return this.decode<T>(res.statusCode, res.headers, text);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (options.signal?.aborted) throw options.signal.reason ?? err;
      if (timedOut) {
        throw new ConnectionError("TIMEOUT", this.baseUrl, `coordinator at ${this.baseUrl} did not answer within ${timeoutMs / 1000}s`);
      }
      throw this.connectionError(err);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  connectionError(err: unknown): ConnectionError {
    const code = errorCode(err);
    const why = (code && CONNECTION_PROBLEMS[code]) ?? (code ? `${code}` : ((err as Error)?.message ?? String(err)));
    return new ConnectionError("UNREACHABLE", this.baseUrl, `cannot reach coordinator at ${this.baseUrl}: ${why}`, { cause: err });
  }

  /** Unwraps the envelope; non-envelope answers (proxies, wrong port) become ApiErrors too. */
  decode<T>(status: number, headers: Record<string, string | string[] | undefined>, text: string): T {
    if (this.options.onWarning) for (const w of parseWarnings(headers.warning)) this.options.onWarning(w);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const env = parsed as { success?: boolean; data?: T; error?: string; code?: string; details?: Record<string, unknown> } | undefined;
    if (status >= 200 && status < 300) {
      if (env && env.success === true) return env.data as T;
      throw new ApiError(status, "BAD_RESPONSE", `unexpected answer from ${this.baseUrl} (is this a multiclaude-coord server?)`);
    }
    const retryAfter = parseRetryAfter(headers["retry-after"]);
    if (env && env.success === false && typeof env.code === "string") {
      throw new ApiError(status, env.code, env.error ?? env.code, env.details ?? {}, retryAfter);
    }
    const snippet = text.trim().slice(0, 120);
    throw new ApiError(status, codeForStatus(status), `HTTP ${status} from ${this.baseUrl}${snippet ? `: ${snippet}` : ""}`, {}, retryAfter);
  }

  /** Open event streams; closing the client ends them (a stream never ends by itself). */
  readonly streams = new Set<AbortController>();

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Ends open streams and closes the pool; calling it again is harmless. */
  close(): Promise<void> {
    if (!this.closing) {
      for (const s of this.streams) s.abort();
      this.closing = this.pool.close().catch(() => {});
    }
    return this.closing;
  }
}
