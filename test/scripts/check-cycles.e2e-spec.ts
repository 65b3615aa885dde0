// scripts/check-cycles.mjs (run by `npm run lint`) on tiny trees written to a temp directory: it
// must pass a tree without a cycle and name every cycle of a tree that has them.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../harness/paths.js';

const SCRIPT = join(PROJECT_ROOT, 'scripts', 'check-cycles.mjs');

async function check(files: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cycles-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, dir]);
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('check-cycles', () => {
  it('passes a tree whose imports form no cycle (a comment or a string naming a file is no import)', async () => {
    const r = await check({
      'a.ts': `import { b } from './b.js';\nexport const a = b;\n`,
      'b.ts': `import { c } from './lib/index.js';\nexport const b = c;\n// import { a } from './a.js';\n`,
      'lib/index.ts': `export { c } from './c.js';\nexport const s = "import './../a.js'";\n`,
      'lib/c.ts': `import { readFileSync } from 'node:fs';\nexport const c = readFileSync;\n`,
    });
    expect(r).toEqual({ code: 0, out: expect.stringContaining('no import cycle') });
  });

  it('fails and names each cycle: value, type-only, re-export and dynamic edges', async () => {
    const r = await check({
      // a -> b -> a, through a value import and an `import type`
      'a.ts': `import { b } from './b.js';\nexport const a = () => b;\n`,
      'b.ts': `import type { A } from './a.js';\nexport const b = 1;\nexport type B = A;\n`,
      // x -> y -> z -> x through `export ... from` and a dynamic import
      'x.ts': `export { y } from './y.js';\n`,
      'y.ts': `import { z } from './z';\nexport const y = z;\n`,
      'z.ts': `export const z = async () => (await import('./x.js')).y;\n`,
      // a file outside any cycle
      'free.ts': `import { a } from './a.js';\nexport const f = a;\n`,
    });
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^check-cycles: 2 import cycle\(s\) in /);
    expect(lines.slice(1).map((l) => l.trim())).toEqual([
      'a.ts -> b.ts -(type)-> a.ts',
      'x.ts -> y.ts -> z.ts -(dynamic)-> x.ts',
    ]);
  });

  it('finds a file that imports itself and two cycles that share a file', async () => {
    const r = await check({
      'self.ts': `import { s } from './self.js';\nexport const t = s;\nexport const s = 1;\n`,
      'hub.ts': `import { p } from './p.js';\nimport { q } from './q.js';\nexport const h = [p, q];\n`,
      'p.ts': `import { h } from './hub.js';\nexport const p = h;\n`,
      'q.ts': `import { h } from './hub.js';\nexport const q = h;\n`,
    });
    expect(r.code).toBe(1);
    expect(
      r.out
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim())
        .sort(),
    ).toEqual(['hub.ts -> p.ts -> hub.ts', 'hub.ts -> q.ts -> hub.ts', 'self.ts -> self.ts']);
  });
});
