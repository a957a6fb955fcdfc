import type { Client } from "../../client/client.js";
import type { CommandContext } from "../context.js";

/**
 * `--watch`: draws once, then again after each event of `types` from the SSE stream (no
 * polling), until Ctrl-C. Events that arrive while a redraw is under way cause one more redraw,
 * not one each. On a terminal each redraw replaces the screen; in a pipe, views follow each other.
 */
export async function watchRedraw(ctx: CommandContext, client: Client, types: string[], draw: () => Promise<void>): Promise<number> {
  const signal = ctx.interruptSignal();
  // The id read before the first draw: the stream resumes right after it, so no change is missed.
  const { last_event_id } = await client.status();
  let drawing: Promise<void> | undefined;
  let again = false;
  const redraw = async (): Promise<void> => {
    ctx.out.clearScreen();
    await draw();
  };
  const schedule = () => {
    if (drawing) {
      again = true;
      return;
    }
    drawing = (async () => {
      do {
        again = false;
        await redraw();
      } while (again && !signal.aborted);
    })()
      // A failed redraw (coordinator briefly away) is said and the next event tries again.
      .catch((err: unknown) => ctx.out.warn(`redraw failed: ${(err as Error).message}`))
      .finally(() => (drawing = undefined));
  };
  await redraw();
  const stream = client.streamEvents({ since: last_event_id, types, signal });
  try {
    for await (const event of stream) {
      void event;
      schedule();
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  await drawing;
  return 0;
}
