import { Pool } from "undici";
import { TOKEN } from "./processes.mjs";

/** A keep-alive pool to the coordinator and a JSON call helper that throws on non-2xx. */
export function createApi(url, connections = 64) {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  async function call(method, path, body) {
    const res = await pool.request({ method, path: `/api/v1${path}`, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await res.body.json();
    if (res.statusCode >= 300) {
      const err = new Error(`${method} ${path} → ${res.statusCode} ${json.code}: ${json.error}`);
      err.code = json.code;
      throw err;
    }
    return json.data;
  }
  return { call, pool, close: () => pool.close() };
}

/** Registers `n` nodes (in parallel batches) and returns their registration ids. */
export async function registerNodes(api, n, make = (i) => ({ node_id: `bench-node-${i}`, capacity: { max_workers: 4 } })) {
  const ids = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        const i = next++;
        ids[i] = (await api.call("POST", "/register", make(i))).registration_id;
      }
    }),
  );
  return ids;
}
