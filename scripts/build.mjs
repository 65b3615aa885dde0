#!/usr/bin/env node
// `npm run build`: the server (tsconfig.build.json) and the browser client (tsconfig.client.json)
// compiled into a fresh folder next to dist/, which then replaces dist/ by two renames. A gateway
// already running from this checkout keeps serving: it loaded its modules at start, and its static
// folder (dist/public) is missing only between the two renames (microseconds), never for the whole
// compile as when the compiler empties dist/ first. A failed compile leaves dist/ untouched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const next = join(root, `dist.next-${process.pid}`);
const old = join(root, `dist.old-${process.pid}`);
const dist = join(root, 'dist');

function tscOrExit(args, what) {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    rmSync(next, { recursive: true, force: true });
    console.error(`build: tsc ${what} failed; dist/ is unchanged`);
    process.exit(r.status ?? 1);
  }
}

/**
 * The browser client references the wire module (a composite project), so it is built with
 * `tsc -b`, which takes no --outDir: each config is extended by one in the fresh folder that
 * points its output (and build info) there.
 */
function browserConfig(name, outDir, references) {
  const file = join(next, 'tsconfig', name);
  const config = {
    extends: join(root, name),
    compilerOptions: {
      outDir,
      tsBuildInfoFile: join(next, 'tsbuildinfo', name.replace('.json', '.tsbuildinfo')),
    },
    ...(references ? { references: references.map((path) => ({ path })) } : {}),
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

tscOrExit(['-p', join(root, 'tsconfig.build.json'), '--outDir', next], '-p tsconfig.build.json');
mkdirSync(join(next, 'tsconfig'), { recursive: true });
const wire = browserConfig('tsconfig.wire.json', join(next, 'public', 'protocol', 'wire'));
const client = browserConfig('tsconfig.client.json', join(next, 'public', 'js'), [wire]);
tscOrExit(['-b', client], '-b tsconfig.client.json');
rmSync(join(next, 'tsconfig'), { recursive: true, force: true });
rmSync(join(next, 'tsbuildinfo'), { recursive: true, force: true });
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
