import { spawn } from 'node:child_process';
import { DIST_MAIN, requireBuild, startChild, type ChildGateway } from './helpers.js';
import { TEST_SECRET } from '../helpers/app.js';

/** Runs `node dist/main.js` until it exits (a configuration it refuses). */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DIST_MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function devToken(gw: ChildGateway): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${gw.port}/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'mallory' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** NODE_ENV: development, production or test only; dev tokens in development only. */
describe('NODE_ENV and dev tokens', () => {
  const started: ChildGateway[] = [];
  afterAll(async () => {
    await Promise.all(started.map((g) => g.stop()));
  });

  it('refuses to start with any other NODE_ENV, naming the problem in one line', async () => {
    const { code, out } = await runToExit({ NODE_ENV: 'prod', JWT_SECRET: TEST_SECRET });
    expect(code).toBe(78);
    expect(out).toContain('NODE_ENV="prod": expected one of development, production, test');
    expect(out).not.toMatch(/listening/);
  });

  for (const mode of ['production', 'test']) {
    it(`has no dev tokens in ${mode} mode, even with AUTH_DEV_TOKENS=true`, async () => {
      const gw = await startChild({ NODE_ENV: mode, AUTH_DEV_TOKENS: 'true' });
      started.push(gw);
      expect(await devToken(gw)).toBe(404);
    });
  }

  it('has dev tokens in development mode, unless AUTH_DEV_TOKENS=false', async () => {
    const on = await startChild({ NODE_ENV: 'development' });
    const off = await startChild({ NODE_ENV: 'development', AUTH_DEV_TOKENS: 'false' });
    started.push(on, off);
    expect(await devToken(on)).toBe(200);
    expect(await devToken(off)).toBe(404);
  });
});
