import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The documentation of the settings cannot drift from the code: every variable the configuration
 * reads is in .env.example (the complete list, with defaults) and in a settings table of the README
 * or of the doc it links for that area (docs/operations.md, docs/scaling.md); every variable in
 * .env.example is read by the configuration.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const TABLE_DOCS = ['README.md', 'docs/operations.md', 'docs/scaling.md'];

/** Names passed to the Reader (r.int('X', ...), r.raw('X'), ...) in src/config/. */
function readByConfig(): Set<string> {
  const source = read('src/config/config.ts');
  return new Set(
    [...source.matchAll(/\br\.(?:raw|int|bool|oneOf)\(\s*'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]),
  );
}

/** `NAME=` lines of .env.example, commented out or not. */
function inEnvExample(): Set<string> {
  return new Set([...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
}

/** Variables named in code spans in the first column of a markdown table. */
function inSettingsTables(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const line of markdown.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1];
    if (first === undefined) continue;
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  return names;
}

describe('settings documentation', () => {
  const config = readByConfig();

  it('finds the variables the configuration reads', () => {
    expect(config.size).toBeGreaterThan(40);
    for (const name of ['PORT', 'HOST', 'JWT_SECRET', 'REDIS_URL', 'TLS_CERT_FILE'])
      expect(config).toContain(name);
  });

  it('.env.example lists every variable the configuration reads, and only those', () => {
    const example = inEnvExample();
    expect([...config].filter((n) => !example.has(n))).toEqual([]);
    expect([...example].filter((n) => !config.has(n))).toEqual([]);
  });

  it('every variable is in a settings table of the README or of a doc it links', () => {
    const readme = read('README.md');
    for (const doc of TABLE_DOCS.slice(1)) expect(readme).toContain(`](${doc})`);
    const documented = new Set(TABLE_DOCS.flatMap((doc) => [...inSettingsTables(read(doc))]));
    expect([...config].filter((n) => !documented.has(n))).toEqual([]);
    expect(
      [...documented].filter((n) => /^[A-Z][A-Z0-9]*_[A-Z0-9_]+$|^[A-Z]{4,}$/.test(n) && !config.has(n)),
    ).toEqual([]);
  });
});
