import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startApp, type TestApp } from '../harness/index.js';

/** Resolves with the ms until the server closed the socket. */
function closedAfter(socket: net.Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${limitMs} ms`));
    }, limitMs);
    socket.on('error', () => undefined);
    socket.resume(); // the server may answer (408) before it closes
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

/** In TLS mode a silent socket is dropped after HEADER_TIMEOUT_MS, as in plain HTTP. */
describe('TLS: silent sockets and HEADER_TIMEOUT_MS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-tls-timeout-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let t: TestApp;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
        '-subj',
        '/CN=127.0.0.1',
      ]),
      { stdio: 'ignore' },
    );
    t = await startApp({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key, HEADER_TIMEOUT_MS: '500' });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops a TCP connection that never starts the TLS handshake', async () => {
    const socket = net.connect(t.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    expect(await closedAfter(socket, 5000)).toBeLessThan(3000);
  });

  it('drops a TLS connection that never sends a request', async () => {
    const socket = tls.connect({ port: t.port, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise((r) => socket.once('secureConnect', r));
    expect(await closedAfter(socket, 5000)).toBeLessThan(3000);
  });
});
