/**
 * Install as the docs say (issue 13, item 12): the `npm pack` tarball, `npm install -g` into an
 * empty prefix with an empty HOME, then the installed `multiclaude-coord` on that prefix's PATH.
 *
 * Kept fast for CI: packages come from npm's existing cache when it has them (`--prefer-offline`,
 * the developer's cache directory), and install scripts are skipped, so better-sqlite3 is not
 * compiled (a full install that builds it from source took 69 s of CPU, over 8 minutes on a loaded
 * 2-core machine; README "Install" says what that build needs). Everything here uses the memory
 * store, which needs no native code.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "../cli/harness.js";

let prefix: string;
let home: string;
let bin: string;

function npm(args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync("npm", args, { cwd: home, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 });
}

beforeAll(() => {
  ensureBuilt();
  const cache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
  home = mkdtempSync(join(tmpdir(), "mcc-install-home-"));
  prefix = mkdtempSync(join(tmpdir(), "mcc-install-prefix-"));
  // dist/ is already built (ensureBuilt); prepare would only build it again.
  execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", home], { cwd: ROOT, stdio: "pipe" });
  const tarball = join(home, readdirSync(home).find((f) => f.endsWith(".tgz"))!);
  const env = { PATH: process.env.PATH, HOME: home, npm_config_cache: cache, npm_config_update_notifier: "false" };
  npm(["install", "-g", "--prefix", prefix, "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", tarball], env);
  bin = join(prefix, "bin", "multiclaude-coord");
}, 300_000);


function installed(args: string[], options: { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: home, env: { PATH: `${join(prefix, "bin")}:${process.env.PATH}`, HOME: home } });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} did not finish: ${stdout}`));
    }, options.timeoutMs ?? 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

describe("npm install -g of the packed tarball, clean HOME", () => {
  it("puts a working multiclaude-coord on the prefix's PATH", async () => {
    const version = await installed(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await installed(["completion", "bash"])).stdout).toContain("complete -F _multiclaude_coord multiclaude-coord");
  });

  it("the installed binary serves and answers (every runtime dependency came along)", async () => {
    const serve = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--store", "memory://"], { cwd: home, env: { PATH: process.env.PATH, HOME: home } });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        serve.stdout.on("data", (d: Buffer) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        serve.on("close", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
      const status = await installed(["--url", url, "--json", "status"]);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ store: "memory" });
      // The dashboard's bundle shipped in the package, and the page finds its assets.
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
      expect((await fetch(`${url}${script}`)).status).toBe(200);
    } finally {
      serve.kill("SIGTERM");
    }
  });
});
