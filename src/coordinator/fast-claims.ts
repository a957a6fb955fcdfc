import { EVENT_TEXT_LIMIT } from "../core/events.js";
import { checkRegistrationOwner, type Caller } from "../core/identity.js";
import * as rules from "../core/tasks.js";
import type { NodeRecord } from "../core/types.js";
import type { ClaimNextOutcome } from "../store/types.js";
import { nodeForRegistration } from "./node-service.js";
import type { ClaimNextInput, CoordinatorContext } from "./types.js";

/** At most this many registrations are remembered (then the memory starts over). */
export const MAX_KNOWN_REGISTRATIONS = 10_000;

type Answer = Exclude<ClaimNextOutcome, { kind: "registration" | "fallback" }>;

/**
 * Claim-next through the store's one-step claim (`Store.claimNext`), for stores that have one.
 * The node and owner of a registration id are remembered: both are fixed for the life of the
 * id (registering again makes a new id), so after a registration's first claim only the store's
 * script runs, and it checks that the registration is still the node's. Everything that can
 * change meanwhile (the node's status, health, cordon, claims, the tasks) is checked inside it.
 * `claim` resolves undefined when the optimistic transaction must decide instead; `node` when
 * the node may not claim now (`rules.assertNodeCanClaim` says why).
 */
export function createFastClaims(ctx: CoordinatorContext, lookahead: number) {
  const { store } = ctx;
  if (!store.claimNext) return undefined;
  const claimNext = store.claimNext;
  const known = new Map<string, Pick<NodeRecord, "id" | "owner">>();

  /** The registration's node, with the same checks (and errors) as `nodeForRegistration`. */
  async function registration(registrationId: string, caller: Caller | undefined): Promise<Pick<NodeRecord, "id" | "owner">> {
    const seen = known.get(registrationId);
    if (seen) {
      try {
        checkRegistrationOwner(caller, seen as NodeRecord);
        return seen;
      } catch {
        // Answer what a fresh lookup answers (a registration that is gone says so first).
        known.delete(registrationId);
      }
    }
    const node = await nodeForRegistration(store, registrationId, caller);
    if (known.size >= MAX_KNOWN_REGISTRATIONS) known.clear();
    const entry = { id: node.id, owner: node.owner };
    known.set(registrationId, entry);
    return entry;
  }

  return {
    async claim(input: ClaimNextInput, caller: Caller | undefined): Promise<Answer | undefined> {
      for (let run = 0; run < 2; run++) {
        const node = await registration(input.registration_id, caller);
        // The script writes the event as is: one that boundEvent would cut goes the long way.
        if ((input.worker_name.length + node.id.length) * 3 >= EVENT_TEXT_LIMIT) return undefined;
        const outcome = await claimNext({
          registration_id: input.registration_id,
          node_id: node.id,
          worker_name: input.worker_name,
          repos: rules.repoFilter(input.repo, input.repos),
          now: ctx.now(),
          lease_ms: ctx.claimTimeoutMs,
          lookahead,
        });
        switch (outcome.kind) {
          case "registration":
            // Gone (or registered again): the lookup of the next run answers REGISTRATION_NOT_FOUND.
            known.delete(input.registration_id);
            continue;
          case "fallback":
            return undefined;
          default:
            return outcome;
        }
      }
      return undefined;
    },
  };
}
