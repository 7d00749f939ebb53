import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

/**
 * A real headless Chromium (Debian's `chromium` package) driven by playwright-core, as the status page tests
 * use it: a fresh profile per launch, nothing that reaches for the internet (the machine has none).
 */
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // The sandbox host's /dev/shm is small; Chromium then crashes tabs when it draws large pages.
  "--disable-dev-shm-usage",
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** launchPersistentContext takes the fresh --user-data-dir as its first argument (Playwright refuses it in args). */
export async function launchChromium(options: { javaScriptEnabled?: boolean; width?: number; height?: number } = {}): Promise<Browser> {
  const profile = await mkdtemp(path.join(tmpdir(), "tack-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    viewport: { width: options.width ?? 1100, height: options.height ?? 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
