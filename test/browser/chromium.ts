// Launches Debian's Chromium through playwright-core (`npx playwright install` cannot download
// here). A missing browser is a failure with instructions, never a silently skipped test.

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags this machine needs: no sandbox as root, no GPU, and none of Chromium's background traffic
 * (the network is closed; without these it fails to reach Google's hosts at every start).
 * Playwright adds --headless and a fresh, empty --user-data-dir for every launch.
 */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it with scripts/install-chromium.sh ` +
        `(Debian: apt-get install -y chromium) or set CHROMIUM_PATH. The browser tests do not skip.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
}
