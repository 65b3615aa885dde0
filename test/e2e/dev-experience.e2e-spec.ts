/**
 * Day one without reading the source, with the built server (`node dist/main.js`; npm test builds):
 * a service token from `npm run token` signed with the development secret the gateway keeps in
 * ./.dev-secret (or JWT_SECRET from ./.env, or an RS256 key), used for a real publish; the
 * loopback default of HOST; one clear line for a busy port; and a rebuild that does not disturb an
 * instance running from the same checkout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DIST_MAIN as MAIN,
  GatewayProcess,
  join as joinRoom,
  PROJECT_ROOT as ROOT,
  TestClient,
} from '../harness/index.js';

const TOKEN_CLI = join(ROOT, 'scripts', 'token.mjs');

/** `node dist/main.js` in `cwd` (where it keeps .dev-secret and reads .env) with only `env` set. */
function startIn(cwd: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  return GatewayProcess.start({ bare: true, cwd, env });
}

/** Runs scripts/token.mjs in `cwd` (as `npm run token --` does in the checkout). */
function token(cwd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [TOKEN_CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, token: r.stdout.trim(), stderr: r.stderr };
}

function claims(jwt: string): Record<string, any> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

function publish(port: number, bearer: string, body: object): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function member(port: number, room: string): Promise<TestClient> {
  const res = await fetch(`http://127.0.0.1:${port}/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ann' }),
  });
  const { token: devToken } = (await res.json()) as { token: string };
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { token: devToken });
  await joinRoom(client, room);
  return client;
}

describe('getting started', () => {
  let dir: string;
  let gw: GatewayProcess | undefined;
  let client: TestClient | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-dev-'));
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await gw?.stop();
    gw = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('npm run token signs with the secret the gateway keeps in .dev-secret; the token publishes, also after a restart', async () => {
    expect(token(dir, ['--sub', 'billing', '--scope', 'publish']).stderr).toMatch(
      /no key: set JWT_SECRET, or start the gateway once here/,
    );

    gw = await startIn(dir);
    expect(gw.output.join('\n')).toMatch(/JWT secret generated at boot and kept in \.dev-secret/);
    expect(statSync(join(dir, '.dev-secret')).mode & 0o777).toBe(0o600);

    const minted = token(dir, [
      '--sub',
      'billing',
      '--scope',
      'publish',
      '--rooms',
      'news,alerts:*',
      '--exp',
      '600',
    ]);
    expect(minted.code).toBe(0);
    expect(minted.stderr).toContain('signed HS256 with the development secret in .dev-secret');
    expect(minted.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const c = claims(minted.token);
    expect(c).toMatchObject({
      sub: 'billing',
      name: 'billing',
      scope: 'publish',
      rooms: ['news', 'alerts:*'],
    });
    expect(c.exp - c.iat).toBe(600);
    expect(gw.output.join('\n')).not.toContain(readFileSync(join(dir, '.dev-secret'), 'utf8').trim());

    client = await member(gw.port, 'news');
    const res = await publish(gw.port, minted.token, { room: 'news', content: 'from the CLI' });
    expect(res.status).toBe(202);
    const message = await client.next('message', 3000, (f) => f.content === 'from the CLI');
    expect(JSON.stringify(message)).toContain('billing');

    const noScope = token(dir, ['--sub', 'billing']);
    expect((await publish(gw.port, noScope.token, { room: 'news', content: 'x' })).status).toBe(403);

    client.close();
    await gw.stop();
    gw = await startIn(dir);
    expect(gw.output.join('\n')).toMatch(/JWT secret read in \.dev-secret/);
    expect((await publish(gw.port, minted.token, { room: 'news', content: 'after restart' })).status).toBe(
      202,
    );
  });

  it('signs with JWT_SECRET from ./.env when it is set (never with .dev-secret then)', async () => {
    writeFileSync(join(dir, '.env'), `JWT_SECRET=${'k'.repeat(40)}\nJWT_ISSUER=acme\n`);
    gw = await startIn(dir);
    const minted = token(dir, ['--sub', 'svc', '--scope', 'publish', '--name', 'Billing service']);
    expect(minted.stderr).toContain('signed HS256 with JWT_SECRET');
    expect(claims(minted.token)).toMatchObject({ iss: 'acme', name: 'Billing service' });
    expect((await publish(gw.port, minted.token, { room: 'news', content: 'hi' })).status).toBe(202);
    expect(() => statSync(join(dir, '.dev-secret'))).toThrow();
  });

  it('signs RS256 with --key when the gateway verifies with JWT_PUBLIC_KEY', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    gw = await startIn(dir, {
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      AUTH_DEV_TOKENS: 'false',
    });
    const refused = token(dir, ['--sub', 'svc', '--scope', 'publish'], {
      JWT_PUBLIC_KEY: 'set',
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/JWT_PUBLIC_KEY is set: .* pass --key/);
    const minted = token(dir, ['--sub', 'svc', '--scope', 'publish', '--key', 'key.pem']);
    expect(minted.code).toBe(0);
    expect(JSON.parse(Buffer.from(minted.token.split('.')[0], 'base64url').toString()).alg).toBe('RS256');
    expect((await publish(gw.port, minted.token, { room: 'news', content: 'signed RS256' })).status).toBe(
      202,
    );
  });

  it('listens on 127.0.0.1 by default in development; the Docker image binds every interface', async () => {
    gw = await startIn(dir, { NODE_ENV: 'development' });
    expect(gw.output.find((l) => l.includes('gateway listening'))).toContain('"host":"127.0.0.1"');
    const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/ENV NODE_ENV=production[\s\\]+PORT=8080[\s\\]+HOST=0\.0\.0\.0/);
  });

  it('a busy port prints one line naming PORT and exits 1, without a stack trace', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = spawnSync(process.execPath, [MAIN], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 15000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(`port ${port} is in use: set PORT (or stop the other process)`);
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('npm run build next to a running instance', () => {
  let gw: GatewayProcess | undefined;
  afterEach(async () => {
    await gw?.stop();
  });

  it('keeps serving dist/public while dist/ is rebuilt in the same checkout', async () => {
    gw = await GatewayProcess.start();
    const url = `http://127.0.0.1:${gw.port}/js/gateway-client.js`;
    const build = spawn(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    const built = new Promise<number | null>((resolve) => build.once('exit', resolve));
    let done = false;
    void built.then(() => (done = true));
    const statuses = new Map<number, number>();
    while (!done) {
      const status = (await fetch(url)).status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await built).toBe(0);
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(10);
    expect((await fetch(url)).status).toBe(200);
  }, 120000);
});
