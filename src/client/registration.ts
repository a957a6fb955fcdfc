import { isApiError } from "./errors.js";
import type { Transport } from "./transport.js";
import type { ClientOptions, DeregisterResponse, RegisterRequest, RegisterResponse } from "./types.js";

export interface RegistrationOptions {
  transport: Transport;
  /** A registration made earlier (e.g. saved by `multiclaude-coord register`). */
  initial?: { id: string; request?: RegisterRequest };
  onRegistered?: ClientOptions["onRegistered"];
}

/**
 * The node side of a client: its current registration, and node calls that survive the
 * coordinator forgetting it (`REGISTRATION_NOT_FOUND`: re-register with the last request, once
 * for all concurrent calls, and call again).
 */
export interface Registration {
  /** The current registration id, if registered (or given one). */
  readonly id: string | undefined;
  /** Registers (upserts) the node; later node calls use the returned id. */
  register(request: RegisterRequest): Promise<RegisterResponse>;
  /** Leaves the coordinator (see `Client.deregister`). */
  deregister(explicit?: string): Promise<DeregisterResponse>;
  /** Runs a node call with the registration id (`explicit`, else the current one). */
  asNode<T>(explicit: string | undefined, call: (registrationId: string) => Promise<T>): Promise<T>;
}

export function createRegistration(options: RegistrationOptions): Registration {
  const { transport } = options;
  let current = options.initial;
  let reregistering: Promise<string> | undefined;

  const require = (explicit?: string): string => {
    const id = explicit ?? current?.id;
    if (!id) throw new Error("this client is not registered: call register() first");
    return id;
  };

  const register = async (request: RegisterRequest): Promise<RegisterResponse> => {
    // An upsert: sending it twice leaves one registration, the last one, which we keep.
    const response = await transport.request<RegisterResponse>("POST", "/register", { body: request, retry: "safe" });
    current = { id: response.registration_id, request };
    options.onRegistered?.({ id: response.registration_id, request, response });
    return response;
  };

  return {
    get id() {
      return current?.id;
    },
    register,

    async deregister(explicit) {
      const id = require(explicit);
      const nodeId = current?.id === id ? current.request?.node_id : undefined;
      let resent = false;
      let data: DeregisterResponse;
      try {
        data = await transport.request<DeregisterResponse>("POST", "/deregister", {
          body: { registration_id: id },
          retry: "safe",
          onRetry: () => {
            resent = true;
          },
        });
      } catch (err) {
        // A resend that finds it gone: an earlier attempt went through, its answer was lost.
        if (!resent || !isApiError(err, "REGISTRATION_NOT_FOUND")) throw err;
        data = nodeId !== undefined ? { node_id: nodeId } : {};
      }
      if (current?.id === id) current = undefined;
      return data;
    },

    async asNode(explicit, call) {
      const id = require(explicit);
      try {
        return await call(id);
      } catch (err) {
        const request = current?.request;
        if (!isApiError(err, "REGISTRATION_NOT_FOUND") || !request || (explicit !== undefined && explicit !== current?.id)) throw err;
        if (current?.id === id) {
          reregistering ??= register(request)
            .then((r) => r.registration_id)
            .finally(() => {
              reregistering = undefined;
            });
        }
        const fresh = reregistering ? await reregistering : require();
        return call(fresh);
      }
    },
  };
}
