import type { ComponentChildren } from "preact";

/** A status word as a coloured pill; the class is picked from a fixed set, never from the text. */
const TONES: Record<string, string> = {
  online: "good",
  healthy: "good",
  completed: "good",
  acked: "good",
  claimed: "busy",
  pending: "info",
  waiting: "info",
  orphaned: "warn",
  degraded: "warn",
  draining: "warn",
  cordoned: "warn",
  offline: "bad",
  failed: "bad",
  cancelled: "muted",
  deregistered: "muted",
};

export function Pill({ word }: { word: string }) {
  return <span class={`pill ${TONES[word] ?? "muted"}`}>{word}</span>;
}

/** "3m ago" for an ISO time, with the exact time on hover. */
export function Ago({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  const s = Math.max(0, Math.round((Date.now() - Date.parse(at)) / 1000));
  const text = s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86400 ? `${Math.floor(s / 3600)}h ago` : `${Math.floor(s / 86400)}d ago`;
  return <time dateTime={at} title={at}>{text}</time>;
}

export function Labels({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <span class="labels">
      {entries.map(([k, v]) => (
        <code key={k}>
          {k}:{v}
        </code>
      ))}
    </span>
  );
}

/** A PR as a link when it is an http(s) URL; anything else (`#42`, attacker text) stays text. */
export function PrLink({ pr }: { pr: string | null | undefined }) {
  if (!pr) return <span class="muted">—</span>;
  return /^https?:\/\//i.test(pr) ? (
    <a href={pr} rel="noopener noreferrer" target="_blank">
      {pr}
    </a>
  ) : (
    <span>{pr}</span>
  );
}

export function Card({ title, children, wide }: { title: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <section class={wide ? "card wide" : "card"}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** A table that scrolls sideways on a narrow screen instead of squeezing. */
export function Table({ head, children, empty }: { head: string[]; children: ComponentChildren; empty?: string }) {
  const rows = Array.isArray(children) ? children.length : children ? 1 : 0;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {rows === 0 && <p class="muted empty">{empty ?? "nothing yet"}</p>}
    </div>
  );
}

/** "more": reads the next page of a server-paged list; shown while the server has more. */
export function MoreButton({ list, what }: { list: { cursor: { value: string | null }; more: () => Promise<void> }; what: string }) {
  if (!list.cursor.value) return null;
  return (
    <p>
      <button type="button" data-action="more" onClick={() => void list.more().catch(() => undefined)}>
        more {what}
      </button>
    </p>
  );
}
