#!/usr/bin/env node
// `npm run dev`: build once, then recompile src/ on change (server and browser client, tsc --watch)
// and restart the gateway when its compiled files change (node --watch). Settings as for npm start
// (environment, ./.env). Ctrl-C stops everything.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);

const children = [
  [tsc, '-p', 'tsconfig.build.json', '--watch', '--preserveWatchOutput'],
  [tsc, '-b', 'tsconfig.client.json', '--watch', '--preserveWatchOutput'],
  ['--watch', '--max-semi-space-size=32', 'dist/main.js'],
].map((args) => spawn(process.execPath, args, { cwd: root, stdio: 'inherit' }));

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}
for (const child of children) child.on('exit', (code) => stop(code ?? 0));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stop(0));
