import { describe, expect, it } from "vitest";
import { CoordError } from "../../src/core/errors.js";
import { ConnectionDropped, storeFault } from "../../src/store/faults.js";

const withCode = (code: string, message = "driver message") => Object.assign(new Error(message), { code });

describe("storeFault: driver failures become 503 UNAVAILABLE, in one place", () => {
  it.each([
    ["SQLITE_FULL", true],
    ["SQLITE_READONLY", true],
    ["SQLITE_READONLY_DBMOVED", true],
    ["SQLITE_IOERR_WRITE", true],
    ["SQLITE_BUSY", true],
    ["SQLITE_BUSY_SNAPSHOT", true],
    ["SQLITE_CANTOPEN", true],
  ])("SQLite %s → UNAVAILABLE, retry_safe %s (a failed transaction is rolled back whole)", (code, safe) => {
    const fault = storeFault(withCode(code));
    expect(fault).toBeInstanceOf(CoordError);
    expect(fault).toMatchObject({ code: "UNAVAILABLE", details: { retry_safe: safe, store_error: code } });
  });

  it("lost Redis connections and Redis' 'not now' replies → UNAVAILABLE; a dropped answer is not safe to resend", () => {
    expect(storeFault(withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:6379"))).toMatchObject({ details: { retry_safe: true } });
    expect(storeFault(new Error("Connection is closed."))).toMatchObject({ code: "UNAVAILABLE", details: { retry_safe: true } });
    const maxRetries = Object.assign(new Error("Reached the max retries per request limit (which is 3)."), { name: "MaxRetriesPerRequestError" });
    expect(storeFault(maxRetries)).toMatchObject({ code: "UNAVAILABLE", details: { retry_safe: true } });
    expect(storeFault(new Error("LOADING Redis is loading the dataset in memory"))).toMatchObject({ code: "UNAVAILABLE" });
    expect(storeFault(new Error("READONLY You can't write against a read only replica."))).toMatchObject({ code: "UNAVAILABLE" });
    expect(storeFault(new ConnectionDropped())).toMatchObject({ code: "UNAVAILABLE", details: { retry_safe: false } });
  });

  it("everything else is not a store fault (a bug stays a 500)", () => {
    expect(storeFault(new TypeError("x is undefined"))).toBeUndefined();
    expect(storeFault(withCode("SQLITE_CONSTRAINT_UNIQUE"))).toBeUndefined();
    expect(storeFault(new CoordError("TASK_CLAIMED", "taken"))).toBeUndefined();
    expect(storeFault(undefined)).toBeUndefined();
  });
});
