import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { spawnServe, type ServeProcess } from "../helpers/serve-process.js";

const OLD = "old-rotating-token";
const NEW = "new-rotating-token";

function writeConfig(file: string, tokens: string[]): void {
  writeFileSync(file, `server:\n  auth:\n    tokens:\n${tokens.map((t) => `      - { token: "${t}", role: node, name: ci-${t.slice(0, 3)} }`).join("\n")}\nstore: memory://\n`);
}

async function status(url: string, token: string): Promise<number> {
  return (await fetch(`${url}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).status;
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("token rotation with SIGHUP (real process)", () => {
  let home: string;
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await serve?.stop("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  });

  it("adds the new token, then retires the old one, without a restart or dropped connections", async () => {
    home = mkdtempSync(join(tmpdir(), "mcc-rotate-"));
    const config = join(home, "coordination.yaml");
    writeConfig(config, [OLD]);
    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", config], { home });
    expect(await status(serve.url, OLD)).toBe(200);
    expect(await status(serve.url, NEW)).toBe(401);

    // A stream opened with the new token must survive the second reload; one with the old token must not.
    const reloads = () => serve!.stderr().split("configuration reloaded").length - 1;

    writeConfig(config, [OLD, NEW]);
    serve.proc.kill("SIGHUP");
    await until(() => reloads() === 1, "the first reload");
    expect(await status(serve.url, OLD)).toBe(200);
    expect(await status(serve.url, NEW)).toBe(200);

    const open = async (token: string) => {
      const res = await fetch(`${serve!.url}/api/v1/events/stream`, { headers: { authorization: `Bearer ${token}` } });
      const reader = res.body!.getReader();
      await reader.read(); // retry: line
      let text = "";
      let ended = false;
      void (async () => {
        for (;;) {
          const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
          if (done) return void (ended = true);
          text += new TextDecoder().decode(value);
        }
      })();
      return { text: () => text, ended: () => ended };
    };
    const onNew = await open(NEW);
    const onOld = await open(OLD);

    writeConfig(config, [NEW]);
    serve.proc.kill("SIGHUP");
    await until(() => reloads() === 2, "the second reload");
    expect(await status(serve.url, OLD)).toBe(401);
    expect(await status(serve.url, NEW)).toBe(200);
    await until(() => onOld.ended(), "the old token's stream to end");

    // The process never restarted and the new token's stream still carries events.
    await fetch(`${serve.url}/api/v1/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${NEW}`, "content-type": "application/json" },
      body: JSON.stringify({ node_id: "after-rotation" }),
    });
    await until(() => onNew.text().includes("after-rotation"), "an event on the surviving stream");
    expect(onNew.ended()).toBe(false);
    expect(serve.proc.exitCode).toBeNull();
  });

  it("ends the dashboard sessions of a token removed by SIGHUP, and keeps the others", async () => {
    home = mkdtempSync(join(tmpdir(), "mcc-rotate-"));
    const config = join(home, "coordination.yaml");
    writeConfig(config, [OLD, NEW]);
    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", config], { home });
    const signIn = async (token: string) => {
      const res = await fetch(`${serve!.url}/api/v1/session`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(201);
      return res.headers.get("set-cookie")!.split(";")[0]!;
    };
    const withCookie = async (cookie: string) => (await fetch(`${serve!.url}/api/v1/status`, { headers: { cookie } })).status;
    const oldSession = await signIn(OLD);
    const newSession = await signIn(NEW);
    expect(await withCookie(oldSession)).toBe(200);

    writeConfig(config, [NEW]);
    serve.proc.kill("SIGHUP");
    await until(() => serve!.stderr().includes("configuration reloaded"), "the reload");
    expect(await withCookie(oldSession)).toBe(401);
    expect(await withCookie(newSession)).toBe(200);
    // Ended for good: putting the token back does not bring the session back.
    writeConfig(config, [OLD, NEW]);
    serve.proc.kill("SIGHUP");
    await until(() => serve!.stderr().split("configuration reloaded").length === 3, "the second reload");
    expect(await withCookie(oldSession)).toBe(401);
  });

  it("a broken config on SIGHUP keeps the running tokens", async () => {
    home = mkdtempSync(join(tmpdir(), "mcc-rotate-"));
    const config = join(home, "coordination.yaml");
    writeConfig(config, [OLD]);
    serve = await spawnServe(["--listen", "127.0.0.1:0", "--config", config], { home });
    writeFileSync(config, "server: [this is: not valid\n");
    serve.proc.kill("SIGHUP");
    await until(() => serve!.stderr().includes("reload failed"), "the reload to fail");
    expect(await status(serve.url, OLD)).toBe(200);
    expect(serve.proc.exitCode).toBeNull();
  });
});
