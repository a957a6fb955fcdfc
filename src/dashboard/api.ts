import { signal } from "@preact/signals";

/** Who the page is signed in as (GET /api/v1/session); undefined while loading. */
export interface Session {
  signed_in: boolean;
  name: string | null;
  role: "read" | "node" | "admin" | null;
  via: "session" | "token" | "none";
  csrf_token: string | null;
  expires_at: string | null;
}

export const session = signal<Session | undefined>(undefined);
/** The last failed action, shown until the next one. */
export const notice = signal<string | null>(null);

export const isAdmin = () => session.value?.role === "admin";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One API call. The session cookie goes along by itself (same origin); the CSRF token is held
 * in memory only and sent on every request that changes something. The token never is.
 */
export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const h: Record<string, string> = { accept: "application/json", ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  const csrf = session.value?.csrf_token;
  if (method !== "GET" && csrf) h["x-csrf-token"] = csrf;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const json = (await res.json().catch(() => null)) as { success?: boolean; data?: T; error?: string; code?: string } | null;
  if (!res.ok || !json?.success) {
    // The session ended (sign-out elsewhere, 12 h, token removed): back to the sign-in form.
    if (res.status === 401 && path !== "/session") void loadSession();
    throw new ApiError(res.status, json?.code ?? "HTTP_" + res.status, json?.error ?? res.statusText);
  }
  return json.data as T;
}

export async function loadSession(): Promise<void> {
  try {
    session.value = await api<Session>("GET", "/session");
  } catch {
    session.value = { signed_in: false, name: null, role: null, via: "none", csrf_token: null, expires_at: null };
  }
}

/** Trades the token for the session cookie; the token is dropped right after. */
export async function signIn(token: string): Promise<void> {
  session.value = { ...(await api<Session>("POST", "/session", undefined, { authorization: `Bearer ${token}` })), signed_in: true };
}

export async function signOut(): Promise<void> {
  await api("DELETE", "/session").catch(() => undefined);
  session.value = { signed_in: false, name: null, role: null, via: "none", csrf_token: null, expires_at: null };
}

/** Runs an admin action, showing its error instead of throwing. */
export async function act(what: string, fn: () => Promise<unknown>): Promise<void> {
  notice.value = null;
  try {
    await fn();
  } catch (err) {
    notice.value = `${what} failed: ${(err as Error).message}`;
  }
}
