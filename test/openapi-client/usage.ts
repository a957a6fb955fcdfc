/**
 * A client generated from the served OpenAPI document (openapi-typescript → `openapi.d.ts`,
 * written by test/server/openapi-client.test.ts at test time) driving the API with openapi-fetch.
 * The test type-checks this file against the fresh types, then runs it: a document that types a
 * 409 as `never`, or a request body wrongly, fails the type check.
 */
import createClient from "openapi-fetch";
import type { paths } from "./openapi.js";

type ClaimConflict = paths["/tasks/{id}/claim"]["post"]["responses"][409]["content"]["application/json"];

/** The codes a 409 of a claim can carry, exactly as the document declares them. */
export type ClaimConflictCode = ClaimConflict["code"];
// @ts-expect-error a code the claim route never answers with 409 is not a ClaimConflictCode
const notAConflict: ClaimConflictCode = "RATE_LIMITED";
void notAConflict;

export interface SessionResult {
  registrationId: string;
  taskId: string;
  claimedBy: string | null;
  conflict: { status: number; code: ClaimConflictCode; claimedBy: unknown };
  completedStatus: string;
}

export async function session(baseUrl: string, token: string): Promise<SessionResult> {
  const api = createClient<paths>({ baseUrl: `${baseUrl}/api/v1`, headers: { authorization: `Bearer ${token}` } });

  const reg = await api.POST("/register", { body: { node_id: "typed-node", capacity: { max_workers: 2 }, labels: { pool: "cpu" } } });
  if (!reg.data) throw new Error(`register: ${JSON.stringify(reg.error)}`);
  const registration_id: string = reg.data.data.registration_id;

  const created = await api.POST("/tasks", { body: { repo: "typed-repo", description: "typed call", priority: "high" } });
  if (!created.data) throw new Error(`create: ${JSON.stringify(created.error)}`);
  const taskId: string = created.data.data.id;

  const claim = await api.POST("/tasks/{id}/claim", { params: { path: { id: taskId } }, body: { registration_id, worker_name: "worker-1" } });
  if (!claim.data) throw new Error(`claim: ${JSON.stringify(claim.error)}`);

  const again = await api.POST("/tasks/{id}/claim", { params: { path: { id: taskId } }, body: { registration_id, worker_name: "worker-2" } });
  if (again.response.status !== 409 || !again.error) throw new Error(`expected a 409, got ${again.response.status}`);
  const conflict = again.error as ClaimConflict;

  const done = await api.POST("/tasks/{id}/complete", { params: { path: { id: taskId } }, body: { registration_id, pr: "#42", summary: "done" } });
  if (!done.data) throw new Error(`complete: ${JSON.stringify(done.error)}`);
  const status: "pending" | "claimed" | "orphaned" | "completed" | "failed" | "cancelled" | (string & {}) = done.data.data.status;

  return {
    registrationId: registration_id,
    taskId,
    claimedBy: claim.data.data.claimed_by,
    conflict: { status: again.response.status, code: conflict.code, claimedBy: conflict.details.claimed_by },
    completedStatus: status,
  };
}
