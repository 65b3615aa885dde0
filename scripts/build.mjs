#!/usr/bin/env node
// `npm run build`: the server (tsconfig.build.json) and the browser client (tsconfig.client.json)
// compiled into a fresh folder next to dist/, which then replaces dist/ by two renames. A gateway
// already running from this checkout keeps serving: it loaded its modules at start, and its static
// folder (dist/public) is missing only between the two renames (microseconds), never for the whole
// compile as when the compiler empties dist/ first. A failed compile leaves dist/ untouched.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const next = join(root, `dist.next-${process.pid}`);
const old = join(root, `dist.old-${process.pid}`);
const dist = join(root, 'dist');

function compile(project, outDir) {
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, project), '--outDir', outDir], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    rmSync(next, { recursive: true, force: true });
    console.error(`build: tsc -p ${project} failed; dist/ is unchanged`);
    process.exit(r.status ?? 1);
  }
}

compile('tsconfig.build.json', next);
compile('tsconfig.client.json', join(next, 'public', 'js'));
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
