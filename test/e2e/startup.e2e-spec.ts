import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** Runs `node dist/main.js` with a clean environment until it exits or prints `until`. */
function run(env: Record<string, string>, until?: RegExp): Promise<{ code: number | null; out: string }> {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run npm run build (npm test does)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
      cwd: fileURLToPath(new URL('.', import.meta.url)), // no .env here
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit and no ${String(until)} within 10 s:\n${out}`));
    }, 10000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (until && until.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('start-up', () => {
  it('refuses to start in production without key material, naming the problem', async () => {
    const { code, out } = await run({ NODE_ENV: 'production' });
    expect(code).toBe(78);
    expect(out).toContain('NODE_ENV=production needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256)');
  });

  it('refuses a bad value with one line per problem', async () => {
    const { code, out } = await run({ PORT: 'x', HEARTBEAT_MS: '-1' });
    expect(code).toBe(78);
    expect(out).toMatch(/PORT="x"/);
    expect(out).toMatch(/HEARTBEAT_MS="-1"/);
  });

  it('starts with no settings in development, says the secret was generated, never prints it', async () => {
    const { out } = await run({}, /gateway listening/);
    expect(out).toMatch(/JWT secret (generated at boot|read in \.dev-secret)/);
    expect(out).toMatch(/dev tokens are ON/);
    // the only long base64url run a secret could be: none appears in the output
    expect(out).not.toMatch(/[A-Za-z0-9_-]{43}/);
  });

  it('starts in production with a secret, dev tokens off', async () => {
    const { out } = await run({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) }, /gateway listening/);
    expect(out).not.toMatch(/dev tokens are ON/);
    expect(out).not.toContain('p'.repeat(40));
  });
});
