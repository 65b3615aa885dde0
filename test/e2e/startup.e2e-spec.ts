import { fileURLToPath } from 'node:url';
import { GatewayProcess } from '../harness/index.js';

/**
 * Runs `node dist/main.js` with nothing but PATH in its environment until it exits, or until it
 * listens (then stops it with SIGTERM); returns its exit code and everything it printed.
 */
async function run(
  env: Record<string, string>,
  listens = false,
): Promise<{ code: number | string; out: string }> {
  const g = GatewayProcess.spawn({
    env: { PORT: '0', HOST: '127.0.0.1', ...env },
    bare: true,
    cwd: fileURLToPath(new URL('.', import.meta.url)), // no .env here
    startTimeoutMs: 10000,
  });
  if (listens) {
    await g.listening();
    await g.stop();
  }
  const code = await g.exited;
  return { code, out: g.log() };
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
    const { out } = await run({}, true);
    expect(out).toMatch(/JWT secret (generated at boot|read in \.dev-secret)/);
    expect(out).toMatch(/dev tokens are ON/);
    // the only long base64url run a secret could be: none appears in the output
    expect(out).not.toMatch(/[A-Za-z0-9_-]{43}/);
  });

  it('starts in production with a secret, dev tokens off', async () => {
    const { out } = await run({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) }, true);
    expect(out).not.toMatch(/dev tokens are ON/);
    expect(out).not.toContain('p'.repeat(40));
  });
});
