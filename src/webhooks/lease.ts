import { createMutex } from "../store/mutex.js";
import type { Store, WebhookCursor } from "../store/types.js";

export interface CursorLeaseOptions {
  store: Store;
  name: string;
  /** This replica's id. */
  owner: string;
  leaseMs: number;
  now: () => number;
  /** The position of a webhook that has no cursor yet. */
  startPosition: () => Promise<number>;
}

/** A cursor nobody has delivered from yet, at `position`. */
export function newCursor(name: string, position: number): Omit<WebhookCursor, "version"> {
  return { name, position, owner: "", lease_until: 0, last_status: null, last_error: null, last_delivery_at: null, delivered: 0, skipped: 0 };
}

/** The changeable part of a cursor. */
export type CursorPatch = Partial<Omit<WebhookCursor, "name" | "version" | "owner" | "lease_until">>;

/**
 * One replica's hold on one webhook's cursor: the lease is the cursor's `owner` and
 * `lease_until`, taken and renewed by compare-and-set, so of several replicas exactly one
 * holds it while its lease runs. Every write goes through here, one at a time, and renews the
 * lease; a write that finds another version means the lease was lost (taken over after it ran
 * out), and the holder must stop.
 */
export function createCursorLease(options: CursorLeaseOptions) {
  const { store, name, owner, leaseMs, now } = options;
  const serial = createMutex();
  let held: WebhookCursor | undefined;

  async function write(base: WebhookCursor | undefined, patch: CursorPatch): Promise<WebhookCursor | undefined> {
    const start = base ?? { ...newCursor(name, await options.startPosition()), version: 0 };
    const { version, ...rest } = start;
    return store.putWebhookCursor({ ...rest, ...patch, name, owner, lease_until: now() + leaseMs }, version);
  }

  return {
    /** The cursor while this replica holds the lease. */
    get cursor(): WebhookCursor | undefined {
      return held && held.lease_until > now() ? held : undefined;
    },
    /**
     * Takes the lease if it is free, ran out, or is ours already (renewing it). Returns the
     * cursor when held, undefined when another replica holds it.
     */
    acquire(): Promise<WebhookCursor | undefined> {
      return serial(async () => {
        const current = await store.getWebhookCursor(name);
        if (current && current.owner !== owner && current.owner !== "" && current.lease_until > now()) {
          held = undefined;
          return undefined;
        }
        held = await write(current, {});
        return held;
      });
    },
    /** Writes `patch` (or what it makes of the cursor) and renews; false when the lease was lost (nothing written). */
    save(patch: CursorPatch | ((cursor: WebhookCursor) => CursorPatch)): Promise<boolean> {
      return serial(async () => {
        if (!held) return false;
        held = await write(held, typeof patch === "function" ? patch(held) : patch);
        return held !== undefined;
      });
    },
    /** Gives the lease up at once (stop, reload), so another replica need not wait for it to run out. */
    release(): Promise<void> {
      return serial(async () => {
        if (!held) return;
        const { version, ...rest } = held;
        held = undefined;
        await store.putWebhookCursor({ ...rest, owner: "", lease_until: 0 }, version);
      });
    },
    /** Removes the cursor (a webhook taken out of the config), unless another replica holds it. */
    forget(): Promise<void> {
      return serial(async () => {
        const current = await store.getWebhookCursor(name);
        held = undefined;
        if (!current || (current.owner !== owner && current.owner !== "" && current.lease_until > now())) return;
        await store.deleteWebhookCursor(name, current.version);
      });
    },
  };
}

export type CursorLease = ReturnType<typeof createCursorLease>;
