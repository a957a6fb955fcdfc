import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRegistrationFile, type SavedRegistration } from "../../src/cli/registration-file.js";

const saved = (url: string, id: string): SavedRegistration => ({
  url,
  node_id: "machine-b",
  registration_id: id,
  request: { node_id: "machine-b", labels: { pool: "gpu" } },
  registered_at: "2025-01-01T00:00:00.000Z",
});

describe("createRegistrationFile", () => {
  it("keeps one registration per coordinator URL in ~/.multiclaude, mode 0600, and forgets on remove", () => {
    const home = mkdtempSync(join(tmpdir(), "mcc-regfile-"));
    const file = createRegistrationFile({ env: { HOME: home } });
    expect(file.path).toBe(join(home, ".multiclaude", "coordination-registration.json"));
    expect(file.get("http://a:7331")).toBeUndefined();
    file.save(saved("http://a:7331", "reg-a"));
    file.save(saved("http://b:7331", "reg-b"));
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    // Another process (a later CLI run) reads what this one saved.
    const later = createRegistrationFile({ env: { HOME: home } });
    expect(later.get("http://a:7331")?.registration_id).toBe("reg-a");
    later.remove("http://a:7331");
    expect(file.get("http://a:7331")).toBeUndefined();
    expect(file.get("http://b:7331")?.registration_id).toBe("reg-b");
    expect(Object.keys((JSON.parse(readFileSync(file.path, "utf8")) as { registrations: object }).registrations)).toEqual(["http://b:7331"]);
  });
});
