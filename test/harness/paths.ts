import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where package.json is). */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The built server; `npm test` builds first, run `npm run build` before running e2e specs alone. */
export const DIST_MAIN = join(PROJECT_ROOT, 'dist', 'main.js');

/** The browser build of the client, served at /js/gateway-client.js. */
export const CLIENT_BUNDLE = join(PROJECT_ROOT, 'dist', 'public', 'js', 'gateway-client.js');

/** Fails with a clear message when the project has not been built. */
export function requireBuild(files: string[] = [DIST_MAIN, CLIENT_BUNDLE]): void {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0)
    throw new Error(`missing ${missing.join(', ')}: run \`npm run build\` first (npm test does it)`);
}
