/**
 * A real terminal for CLI tests: a tmux pane of a given width on a private tmux server, whose
 * raw output (escape codes included) is recorded with `pipe-pane`. Used by the golden-output
 * tests to compare what a person sees on a TTY with what a script gets through a pipe.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, tempHome } from "./harness.js";

export function tmuxAvailable(): boolean {
  try {
    execFileSync("tmux", ["-V"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TerminalRun {
  /** Every byte the pane received, escape codes and CRLF included. */
  raw: string;
  /** The exit code of the command. */
  code: number;
  /** The screen as tmux shows it (trailing blanks trimmed by tmux). */
  screen: string;
}

/** A private tmux server (its own socket); `close()` ends it. */
export function createTerminal() {
  const socket = `mcc-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const dir = tempHome();
  let n = 0;
  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8", stdio: "pipe" });
  return {
    /**
     * Runs the CLI with `args` in a fresh window `width` columns wide and waits for it to end.
     * `interrupt` sends Ctrl-C once `interrupt.after` shows up in the raw output.
     */
    async run(args: string[], options: { width: number; env: NodeJS.ProcessEnv; interrupt?: { after: RegExp } }): Promise<TerminalRun> {
      // A session that outlives the others keeps the server up (it exits with its last session).
      if (n === 0) tmux("new-session", "-d", "-s", "keep", "sleep", "3600");
      const id = `w${n++}`;
      const out = join(dir, `${id}.raw`);
      const rc = join(dir, `${id}.rc`);
      const go = join(dir, `${id}.go`);
      const env = Object.entries(options.env)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${quote(v!)}`)
        .join(" ");
      // Waits for `go` so that the pipe is attached before the first byte is written.
      // sh keeps running on Ctrl-C (a trap, reset to default for the child) to record the exit code.
      const script = `trap 'true' INT; while [ ! -e ${quote(go)} ]; do sleep 0.05; done; env -i ${env} ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(" ")}; echo $? > ${quote(rc)}; sleep 600`;
      tmux("new-session", "-d", "-s", id, "-x", String(options.width), "-y", "60", "sh", "-c", script);
      tmux("pipe-pane", "-t", id, "-o", `cat > ${quote(out)}`);
      execFileSync("touch", [go]);
      if (options.interrupt) {
        await until(() => existsSync(out) && options.interrupt!.after.test(readFileSync(out, "utf8")), `${options.interrupt.after}`);
        tmux("send-keys", "-t", id, "C-c");
      }
      await until(() => existsSync(rc), `multiclaude-coord ${args.join(" ")} to end`);
      // The pipe may lag the exit a moment: the screen is read first, the raw bytes until they
      // reach its last line.
      const screen = tmux("capture-pane", "-p", "-t", id);
      const code = Number(readFileSync(rc, "utf8").trim());
      const last = screen.trimEnd().split("\n").at(-1)!.trimEnd();
      let raw = "";
      await until(() => {
        raw = existsSync(out) ? readFileSync(out, "utf8") : "";
        return visible(raw).trimEnd().endsWith(last);
      }, "the recorded output");
      tmux("kill-session", "-t", id);
      return { raw, code, screen };
    },
    close(): void {
      try {
        tmux("kill-server");
      } catch {
        // already gone
      }
    },
  };
}

/** What a person sees: escape codes and carriage returns removed. */
export function visible(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\x1b[()][A-Z0-9]/g, "").replace(/\r/g, "");
}
