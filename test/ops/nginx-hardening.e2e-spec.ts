import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import {
  freePort,
  GatewayProcess,
  HandshakeRefused,
  NGINX,
  Nginx,
  poll,
  TestClient,
  userToken,
} from '../harness/index.js';

/** GET through nginx from a given loopback source address; resolves with the status. */
function get(port: number, path: string, sourceIp: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, localAddress: sourceIp, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/**
 * deploy/nginx.conf as the edge: the operations endpoints stay internal whatever the spelling, and
 * no log line carries a query string, nginx's error log included when the upstream is dead.
 */
describe('deploy/nginx.conf hardening (real nginx)', () => {
  beforeAll(() => {
    if (!NGINX) throw new Error('nginx is not installed: run scripts/install-nginx.sh');
  });

  describe('operations endpoints', () => {
    let gw: GatewayProcess;
    let nginx: Nginx;
    beforeAll(async () => {
      gw = await GatewayProcess.start();
      nginx = new Nginx();
      await nginx.start([gw.port]);
    }, 30000);
    afterAll(async () => {
      await nginx?.stop();
      await gw?.stop();
    });

    const variants = [
      '/metrics',
      '/METRICS',
      '/Metrics',
      '/metrics/',
      '/metrics//',
      '/metrics?x=1',
      '/metrics.',
      '/%6Detrics',
      '//metrics',
      '/readyz',
      '/Readyz',
      '/READYZ/',
      '/readyz/',
      '/healthz',
      '/HEALTHZ',
      '/healthz/',
      '/x/../metrics',
    ];

    it('refuses every spelling of /metrics, /readyz and /healthz to an outside address', async () => {
      const answers: Record<string, number> = {};
      for (const path of variants) answers[path] = await get(nginx.port, path, '127.0.0.2');
      // 403 from the allow list (or a 4xx the gateway gives an unknown path), never a 2xx.
      for (const [path, status] of Object.entries(answers)) {
        expect({ path, ok: status >= 200 && status < 300 }).toEqual({ path, ok: false });
      }
      expect(answers['/METRICS']).toBe(403);
      expect(answers['/metrics/']).toBe(403);
      expect(answers['/Readyz']).toBe(403);
    });

    it('still serves them to the internal network', async () => {
      expect(await get(nginx.port, '/metrics', '127.0.0.1')).toBe(200);
      expect(await get(nginx.port, '/readyz', '127.0.0.1')).toBe(200);
      expect(await get(nginx.port, '/healthz', '127.0.0.1')).toBe(200);
    });
  });

  describe('a dead upstream', () => {
    let nginx: Nginx;
    afterAll(async () => {
      await nginx?.stop();
    });

    it('logs no query string in the error log or the access log', async () => {
      nginx = new Nginx();
      await nginx.start([await freePort()], false); // nothing listens there
      const token = userToken('dead-upstream');
      const refused = await TestClient.connect(`${nginx.wsUrl}?token=${token}`, {
        wsOptions: { localAddress: '127.0.0.30' },
      }).then(
        (c) => (c.close(), null),
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(HandshakeRefused);
      expect((refused as HandshakeRefused).status).toBe(502);
      expect(await get(nginx.port, '/api/publish?secret=query-marker', '127.0.0.30')).toBe(502);
      await poll(
        () => readFileSync(join(nginx.dir, 'access.log'), 'utf8').includes('/api/publish'),
        3000,
        'the access log',
      );
      const access = readFileSync(join(nginx.dir, 'access.log'), 'utf8');
      const errors = readFileSync(join(nginx.dir, 'error.log'), 'utf8');
      for (const log of [errors, access]) {
        expect(log).not.toContain(token);
        expect(log).not.toContain('query-marker');
      }
      // What the error log no longer says, the access log does.
      expect(access).toContain('GET /ws');
      expect(access).toMatch(/GET \/ws HTTP\/1.1" 502 .* upstream_status=502/);
    });
  });
});
