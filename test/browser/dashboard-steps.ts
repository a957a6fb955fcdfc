import type { WatchedPage } from "../helpers/browser.js";

/** Signs in through the form, as a user would. */
export async function signInThroughForm(w: WatchedPage, url: string, token: string): Promise<void> {
  await w.page.goto(url);
  await w.page.fill('input[name="token"]', token);
  await w.page.click('button[type="submit"]');
  await w.page.locator('[data-testid="role"]').waitFor();
}

/** Waits until the page's event stream is open. */
export const waitLive = (w: WatchedPage) => w.page.locator('[data-testid="live"][data-live="true"]').waitFor();
