import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WIRE = dirname(fileURLToPath(import.meta.url));

describe('the wire module', () => {
  // The browser build compiles these files too: an import of Node, Nest or anything outside this
  // folder would either fail that build or ship a module the browser cannot load.
  it('imports nothing but its own files', () => {
    const files = readdirSync(WIRE).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
    expect(files).toEqual(expect.arrayContaining(['codes.ts', 'frames.ts', 'limits.ts', 'token-bucket.ts']));
    const outside: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(WIRE, file), 'utf8');
      for (const m of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1] ?? m[2];
        if (!/^\.\/[\w-]+\.js$/.test(spec)) outside.push(`${file}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
