import { describe, expect, it } from "vitest";
import { isAutoPipelineFault, pipelineGuardHandler } from "../../src/store/redis-pipeline-guard.js";

/** The TypeError ioredis 5 throws from autoPipelining.js (redis/ioredis#1931), stack as seen. */
function autoPipelineFault(): TypeError {
  const err = new TypeError("results[i] is not iterable");
  err.stack = `TypeError: results[i] is not iterable\n    at /app/node_modules/ioredis/built/autoPipelining.js:66:49\n    at tryCatcher (/app/node_modules/standard-as-callback/built/utils.js:12:23)`;
  return err;
}

describe("the ioredis auto-pipelining guard of serve", () => {
  it("recognises only that fault", () => {
    expect(isAutoPipelineFault(autoPipelineFault())).toBe(true);
    expect(isAutoPipelineFault(new TypeError("results[i] is not iterable"))).toBe(false); // not from ioredis
    const other = new TypeError("x is not a function");
    other.stack = `TypeError: x is not a function\n    at /app/node_modules/ioredis/built/autoPipelining.js:10:1`;
    expect(isAutoPipelineFault(other)).toBe(false);
    expect(isAutoPipelineFault("results[i] is not iterable")).toBe(false);
  });

  it("logs the fault as one line and goes on; any other uncaught error is still fatal", () => {
    const lines: string[] = [];
    const fatal: unknown[] = [];
    const handle = pipelineGuardHandler({ log: (l) => lines.push(l), fatal: (e) => fatal.push(e) });
    handle(autoPipelineFault());
    expect(lines).toEqual([expect.stringMatching(/^redis: ignored an ioredis auto-pipelining fault \(results\[i\] is not iterable\)/)]);
    expect(fatal).toEqual([]);
    const bug = new Error("a real bug");
    handle(bug);
    expect(fatal).toEqual([bug]);
    expect(lines).toHaveLength(1);
  });
});
