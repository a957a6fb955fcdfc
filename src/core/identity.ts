import { CoordError } from "./errors.js";
import { parseAddress } from "./nodes.js";
import type { NodeRecord } from "./types.js";

/**
 * Who calls the coordinator, as the server's authentication tells it: the token's name and role
 * and, for a node token, the node ids it may be. The coordinator's rules take it as given; a
 * call without a caller (in-process use, tests) is trusted.
 */
export interface Caller {
  name: string;
  role: "admin" | "node" | "read";
  /** Globs (`ci-runner-*`) of the node ids this token may register; any when absent. */
  nodes?: readonly string[];
  /**
   * Authentication is switched off: nobody is identified, so this caller is trusted like an
   * in-process one and owns nothing (nodes keep the owner they had when auth was on).
   */
  anonymous?: boolean;
}

/** The caller the rules look at: none (trusted) when nobody is identified. */
const identified = (caller: Caller | undefined): Caller | undefined => (caller?.anonymous ? undefined : caller);

const globCache = new Map<string, RegExp>();

/** `*` matches any run of characters, `?` one; everything else itself. */
export function nodeGlobMatches(glob: string, nodeId: string): boolean {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\-]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    re = new RegExp(`^${body}$`);
    if (globCache.size < 1000) globCache.set(glob, re);
  }
  return re.test(nodeId);
}

/**
 * May `caller` register `nodeId`, which `prev` (if stored) belongs to? A node id belongs to the
 * token name that first registered it; another name gets NODE_OWNED, an id outside the token's
 * `nodes` globs FORBIDDEN. An admin may take any node over: the answer says so, for the audit log.
 * Returns the owner the node has after this registration.
 */
export function checkRegister(anyCaller: Caller | undefined, nodeId: string, prev: NodeRecord | undefined): { owner?: string; takeover_from?: string } {
  const caller = identified(anyCaller);
  if (!caller) return prev?.owner !== undefined ? { owner: prev.owner } : {};
  const owner = prev?.owner;
  if (caller.role === "admin") return owner !== undefined && owner !== caller.name ? { owner: caller.name, takeover_from: owner } : { owner: caller.name };
  if (caller.nodes && !caller.nodes.some((g) => nodeGlobMatches(g, nodeId))) {
    throw new CoordError("FORBIDDEN", `token "${caller.name}" may not register node ${nodeId} (its nodes: ${caller.nodes.join(", ")})`, {
      node_id: nodeId,
      nodes: caller.nodes,
    });
  }
  if (owner !== undefined && owner !== caller.name) {
    throw new CoordError("NODE_OWNED", `node ${nodeId} belongs to token "${owner}"; only that token (or an admin) may register it`, {
      node_id: nodeId,
      owner,
    });
  }
  return { owner: caller.name };
}

/**
 * Acting through a registration needs the token that made it, and (should its `nodes` have been
 * narrowed since, by a reload) a token still allowed that node. Records stored before nodes had
 * owners carry none and stay usable until their next registration sets one.
 */
export function checkRegistrationOwner(anyCaller: Caller | undefined, node: NodeRecord): void {
  const caller = identified(anyCaller);
  if (!caller) return;
  const owns = node.owner === undefined || node.owner === caller.name;
  if (owns && (caller.role !== "node" || !caller.nodes || caller.nodes.some((g) => nodeGlobMatches(g, node.id)))) return;
  throw new CoordError(
    "FORBIDDEN",
    owns
      ? `token "${caller.name}" may no longer act for node ${node.id} (its nodes: ${caller.nodes!.join(", ")})`
      : `this registration belongs to another token; token "${caller.name}" may not act for node ${node.id}`,
    { node_id: node.id },
  );
}

/** Node tokens send as one of their own node's agents: `from` must be `name@<that node>`. */
export function checkSender(anyCaller: Caller | undefined, node: NodeRecord | undefined, from: string): void {
  const caller = identified(anyCaller);
  if (!caller || caller.role === "admin") return;
  if (!node) {
    throw new CoordError("FORBIDDEN", "a node token sends messages through its registration: registration_id is required", {
      required: "registration_id",
    });
  }
  const address = parseAddress(from);
  if (address.node !== node.id) {
    throw new CoordError("FORBIDDEN", `from must be an agent of this registration's node (name@${node.id}), got ${from}`, {
      from,
      node_id: node.id,
    });
  }
}

/** Node tokens ack only messages addressed to their own node, named by its registration; an admin any. */
export function checkRecipient(anyCaller: Caller | undefined, node: NodeRecord | undefined, toNode: string, messageId: string): void {
  const caller = identified(anyCaller);
  if (!caller || caller.role === "admin" || node?.id === toNode) return;
  throw new CoordError(
    "NOT_RECIPIENT",
    node
      ? `message ${messageId} is addressed to node ${toNode}, not to this registration's node ${node.id}`
      : `a node token acks a message with the registration_id of the node it is addressed to`,
    { message_id: messageId, ...(node ? { node_id: node.id } : { required: "registration_id" }) },
  );
}
