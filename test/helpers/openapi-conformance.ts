/**
 * Checks real responses against the OpenAPI document the server serves (DESIGN §14): the status
 * must be declared for the operation, and the body must validate against the schema declared for
 * that status and media type. Used by every test server (test-server.ts) and by the scripted
 * session in test/server/openapi.test.ts.
 */
import { Ajv, type ValidateFunction } from "ajv";

type Doc = { paths: Record<string, Record<string, Operation>> };
interface Operation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: object }> }>;
}

export interface CheckedResponse {
  method: string;
  /** The request path without query, e.g. `/api/v1/tasks/task-1/claim`, or a route template (`/api/v1/tasks/:id/claim`). */
  path: string;
  status: number;
  contentType: string | null;
  body: string;
}

export interface Conformance {
  /** What is wrong with this response (empty when it conforms); `operationId` when the path is documented. */
  check(res: CheckedResponse): { problems: string[]; operationId?: string };
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat("date-time", ISO_DATE_TIME);
const compiled = new Map<string, ValidateFunction>();

/** Validators are shared by every server of a test file (compiling is the slow part). */
function validatorFor(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) compiled.set(key, (v = ajv.compile(schema)));
  return v;
}

/** `/api/v1/tasks/:id` and `/tasks/{id}` both become the document's `/tasks/{id}`. */
function templateOf(path: string): string {
  return path.replace(/^\/api\/v1(?=\/|$)/, "").replace(/:([A-Za-z_]+)/g, "{$1}") || "/";
}

export function createConformance(doc: Doc): Conformance {
  // Static paths before templated ones, so /tasks/pending is not taken for /tasks/{id}.
  const templates = Object.keys(doc.paths)
    .map((t) => ({ t, re: new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`), params: (t.match(/\{/g) ?? []).length }))
    .sort((a, b) => a.params - b.params);
  return {
    check(res) {
      const path = templateOf(res.path);
      const template = doc.paths[path] ? path : templates.find((c) => c.re.test(path))?.t;
      const op = template ? doc.paths[template]![res.method.toLowerCase()] : undefined;
      const where = `${res.method} ${template ?? res.path}`;
      if (!op) {
        // No such operation: a refusal (404, or a 4xx the body parser gave first), in the error envelope.
        if (res.status < 400 || res.status >= 500) return { problems: [`${where} is not in the OpenAPI document but answered ${res.status}`] };
        return { problems: envelopeProblems(res, where) };
      }
      const declared = op.responses?.[String(res.status)];
      if (!declared) {
        const code = errorCode(res.body);
        return {
          operationId: op.operationId,
          problems: [
            `${where} (${op.operationId}) answered ${res.status}${code ? ` ${code}` : ""}, which its OpenAPI document does not declare ` +
              `(declared: ${Object.keys(op.responses ?? {}).join(", ")}); add the code to the route's \`errors\` in src/server/routes/`,
          ],
        };
      }
      const mediaType = (res.contentType ?? "").split(";")[0]!.trim();
      const content = declared.content?.[mediaType];
      if (!content) {
        return { operationId: op.operationId, problems: [`${where} ${res.status} answered ${mediaType || "no content type"}; declared: ${Object.keys(declared.content ?? {}).join(", ")}`] };
      }
      if (mediaType !== "application/json" || !content.schema) return { operationId: op.operationId, problems: [] };
      let body: unknown;
      try {
        body = JSON.parse(res.body);
      } catch {
        return { operationId: op.operationId, problems: [`${where} ${res.status}: the body is not JSON`] };
      }
      const validate = validatorFor(content.schema);
      if (validate(body)) return { operationId: op.operationId, problems: [] };
      const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || "/"} ${e.message}`);
      return { operationId: op.operationId, problems: [`${where} ${res.status} does not match its declared schema: ${errors.join("; ")} — body ${res.body.slice(0, 300)}`] };
    },
  };
}

function errorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed.code === "string" ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}

function envelopeProblems(res: CheckedResponse, where: string): string[] {
  const code = errorCode(res.body);
  return code ? [] : [`${where} ${res.status} is not the error envelope: ${res.body.slice(0, 200)}`];
}
