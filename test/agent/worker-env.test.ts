import { describe, expect, it } from "vitest";
import { workerEnv } from "../../src/agent/worker-env.js";

describe("workerEnv", () => {
  const token = "s3cret-coordinator-token-0123456789";

  it("drops MULTICLAUDE_COORD_TOKEN and every variable holding the token, keeping the rest", () => {
    const env = {
      PATH: "/usr/bin:/bin",
      HOME: "/home/mc",
      ANTHROPIC_API_KEY: "sk-ant-123",
      MULTICLAUDE_COORD_TOKEN: "a-different-token",
      MULTICLAUDE_COORD_CONFIG: "/etc/mc/coordination.yaml",
      MULTICLAUDE_COORD_URL: "https://coord:7331",
      COORD_TOKEN: token,
      WITH_NEWLINE: `${token}\n`,
      AUTH: `Bearer ${token}`,
      UNSET: undefined,
    };
    expect(workerEnv({ env, token })).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/mc",
      ANTHROPIC_API_KEY: "sk-ant-123",
      MULTICLAUDE_COORD_CONFIG: "/etc/mc/coordination.yaml",
      MULTICLAUDE_COORD_URL: "https://coord:7331",
    });
    expect(env.COORD_TOKEN).toBe(token); // the agent's own environment is left alone
  });

  it("looks for a short token only as a whole value (it could be part of anything)", () => {
    expect(workerEnv({ env: { A: "abc", B: "xabcx", MULTICLAUDE_COORD_TOKEN: "abc" }, token: "abc" })).toEqual({ B: "xabcx" });
  });

  it("without a token still drops our secret variables, and an empty token matches nothing", () => {
    expect(workerEnv({ env: { MULTICLAUDE_COORD_TOKEN: "t", EMPTY: "", X: "1" } })).toEqual({ EMPTY: "", X: "1" });
    expect(workerEnv({ env: { EMPTY: "", X: "1" }, token: "" })).toEqual({ EMPTY: "", X: "1" });
  });
});
