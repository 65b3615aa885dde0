import { GatewayProcess, TEST_SECRET } from '../harness/index.js';

/** Runs `node dist/main.js` until it exits (a configuration it refuses; killed if it listens). */
async function runToExit(env: Record<string, string>): Promise<{ code: number | string; out: string }> {
  const gw = GatewayProcess.spawn({
    bare: true,
    cwd: '/',
    env: { HOST: '127.0.0.1', ...env },
    startTimeoutMs: 10_000,
  });
  const code = await gw.exited;
  return { code, out: gw.log() };
}

async function devToken(gw: GatewayProcess): Promise<number> {
  const res = await fetch(`${gw.httpUrl}/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'mallory' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** NODE_ENV: development, production or test only; dev tokens in development only. */
describe('NODE_ENV and dev tokens', () => {
  const started: GatewayProcess[] = [];
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
      const gw = await GatewayProcess.start({ env: { NODE_ENV: mode, AUTH_DEV_TOKENS: 'true' } });
      started.push(gw);
      expect(await devToken(gw)).toBe(404);
    });
  }

  it('has dev tokens in development mode, unless AUTH_DEV_TOKENS=false', async () => {
    const on = await GatewayProcess.start({ development: true });
    const off = await GatewayProcess.start({ development: true, env: { AUTH_DEV_TOKENS: 'false' } });
    started.push(on, off);
    expect(await devToken(on)).toBe(200);
    expect(await devToken(off)).toBe(404);
  });
});
