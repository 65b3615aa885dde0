import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { startApp, TestClient, type TestApp, userToken } from '../harness/index.js';

/** TLS_CERT_FILE / TLS_KEY_FILE: the same port serves https:// and wss:// (self-signed cert made with openssl). */
describe('optional TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let t: TestApp;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ],
      {
        stdio: 'ignore',
      },
    );
    t = await startApp({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key }, { logLevel: 'info' });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS and WSS', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${t.port}/healthz`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
    const c = await TestClient.connect(`wss://127.0.0.1:${t.port}/ws`, {
      token: userToken('tls-user'),
      wsOptions: { rejectUnauthorized: false },
    });
    c.send({ type: 'ping' });
    await c.next('pong');
    c.close();
  });

  it('refuses to boot with only one of the two files, or a missing file', () => {
    expect(() => loadConfig({ TLS_CERT_FILE: cert })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE/);
    expect(() => loadConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: join(dir, 'nope.pem') })).toThrow(
      /TLS_KEY_FILE=.*no such file/,
    );
  });
});
