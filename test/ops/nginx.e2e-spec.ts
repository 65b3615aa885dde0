import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GatewayProcess,
  HandshakeRefused,
  join as joinRoom,
  NGINX,
  Nginx,
  poll,
  TestClient,
  userToken,
} from '../harness/index.js';

/** Connects through nginx from a given loopback source address (127.0.0.x). */
function connectFrom(
  url: string,
  sourceIp: string,
  sub: string,
  headers: Record<string, string> = {},
): Promise<TestClient> {
  return TestClient.connect(url, { token: userToken(sub), headers, wsOptions: { localAddress: sourceIp } });
}

async function settle(
  attempts: Promise<TestClient>[],
): Promise<{ ok: TestClient[]; refused: HandshakeRefused[] }> {
  const ok: TestClient[] = [];
  const refused: HandshakeRefused[] = [];
  for (const r of await Promise.allSettled(attempts)) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else if (r.reason instanceof HandshakeRefused) refused.push(r.reason);
    else throw r.reason;
  }
  return { ok, refused };
}

describe('behind nginx (deploy/nginx.conf) with two instances', () => {
  // npm test installs nginx (scripts/test-prereqs.sh); a missing one fails loudly, never skips.
  beforeAll(() => {
    if (!NGINX) throw new Error('nginx is not installed: run scripts/install-nginx.sh');
  });

  for (const trustProxy of [true, false]) {
    describe(`TRUST_PROXY=${trustProxy}`, () => {
      let gws: GatewayProcess[] = [];
      let nginx: Nginx;
      beforeAll(async () => {
        gws = await Promise.all(
          [0, 1].map(() =>
            GatewayProcess.start({
              development: true, // for POST /auth/dev-token through nginx
              env: { TRUST_PROXY: String(trustProxy), MAX_CONNECTIONS_PER_IP: '1' },
            }),
          ),
        );
        nginx = new Nginx();
        await nginx.start(gws.map((g) => g.port));
      }, 30000);
      afterAll(async () => {
        await nginx?.stop();
        await Promise.all(gws.map((g) => g.kill()));
      });

      if (trustProxy) {
        it('proxies the WebSocket to both instances and chat works through it', async () => {
          const clients = await Promise.all(
            [2, 3, 4, 5].map((n) => connectFrom(nginx.wsUrl, `127.0.0.${n}`, `chat-${n}`)),
          );
          // The session id starts with the instance id: both instances got connections.
          const byInstance = new Map<string, TestClient[]>();
          for (const c of clients) {
            const instance = String(c.frames[0].session).split('-')[0];
            byInstance.set(instance, [...(byInstance.get(instance) ?? []), c]);
          }
          expect(byInstance.size).toBe(2);
          for (const [instance, group] of byInstance) {
            const room = `via-nginx-${instance}`;
            for (const c of group) await joinRoom(c, room);
            group[0].send({ type: 'message', room, content: 'through the proxy', id: `m-${instance}` });
            expect(await group[0].next('ack')).toMatchObject({ id: `m-${instance}`, seq: 1 });
            for (const c of group)
              expect(await c.next('message')).toMatchObject({ room, content: 'through the proxy', seq: 1 });
          }
          // Plain HTTP through nginx as well.
          const res = await fetch(`http://127.0.0.1:${nginx.port}/auth/dev-token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'via nginx' }),
          });
          expect(res.status).toBe(200);
          for (const c of clients) c.close();
          await Promise.all(clients.map((c) => c.closed()));
          // A token sent as ?token= never reaches nginx's access log.
          const token = userToken('query-token');
          (
            await TestClient.connect(`${nginx.wsUrl}?token=${token}`, {
              wsOptions: { localAddress: '127.0.0.20' },
            })
          ).close();
          await poll(
            () => readFileSync(join(nginx.dir, 'access.log'), 'utf8').includes('127.0.0.20'),
            3000,
            'access log',
          );
          const log = readFileSync(join(nginx.dir, 'access.log'), 'utf8');
          expect(log).toContain('GET /ws');
          expect(log).not.toContain(token);
        });

        it('applies MAX_CONNECTIONS_PER_IP to the forwarded address', async () => {
          // Three different client addresses: each instance sees at most one per forwarded IP.
          const distinct = await settle(
            [6, 7, 8].map((n) => connectFrom(nginx.wsUrl, `127.0.0.${n}`, `ip-${n}`)),
          );
          expect(distinct.refused).toHaveLength(0);
          // Three connections from ONE address over two instances: at least one instance sees it twice.
          const same = await settle([1, 2, 3].map((n) => connectFrom(nginx.wsUrl, '127.0.0.9', `same-${n}`)));
          expect(same.refused.length).toBeGreaterThanOrEqual(1);
          for (const r of same.refused) expect(r.status).toBe(429);
          // nginx overwrites a spoofed X-Forwarded-For: varying it does not dodge the limit.
          const spoof = await settle(
            [1, 2, 3].map((n) =>
              connectFrom(nginx.wsUrl, '127.0.0.10', `spoof-${n}`, { 'x-forwarded-for': `10.9.9.${n}` }),
            ),
          );
          expect(spoof.refused.length).toBeGreaterThanOrEqual(1);
          for (const c of [...distinct.ok, ...same.ok, ...spoof.ok]) c.close();
        });
      } else {
        it('ignores X-Forwarded-For: every client counts as the proxy address', async () => {
          // Three different client addresses over two instances: without TRUST_PROXY each instance
          // sees them all as nginx (127.0.0.1), so one instance refuses its second.
          const r = await settle(
            [11, 12, 13].map((n) => connectFrom(nginx.wsUrl, `127.0.0.${n}`, `nt-${n}`)),
          );
          expect(r.refused.length).toBeGreaterThanOrEqual(1);
          for (const x of r.refused) {
            expect(x.status).toBe(429);
            expect(x.body.error).toBe('too_many_connections');
          }
          for (const c of r.ok) c.close();
        });
      }
    });
  }
});
