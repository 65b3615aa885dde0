import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GatewayProcess,
  freePort,
  HandshakeRefused,
  join as joinRoom,
  poll,
  PROJECT_ROOT,
  TestClient,
  userToken,
} from '../harness/index.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

/**
 * deploy/nginx.conf in front of two gateway instances (child processes `node dist/main.js`), with
 * our own prefix, pid file and port; nginx is stopped by its PID. Installed by
 * scripts/install-nginx.sh when missing.
 */
class Nginx {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-nginx-'));
  port = 0;

  async start(upstreams: number[]): Promise<void> {
    this.port = await freePort();
    const template = readFileSync(join(PROJECT_ROOT, 'deploy', 'nginx.conf'), 'utf8');
    const lines: string[] = [];
    let upstreamDone = false;
    for (const line of template.split('\n')) {
      const marker = /#\s*test:\s*(\w+)/.exec(line)?.[1];
      if (marker === 'pid') lines.push(`pid ${this.dir}/nginx.pid;`);
      else if (marker === 'error_log') lines.push(`error_log ${this.dir}/error.log warn;`);
      else if (marker === 'access_log') {
        lines.push(line.replace(/access_log \S+/, `access_log ${this.dir}/access.log`));
        for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
          lines.push(`${t}_temp_path ${this.dir}/${t};`);
      } else if (marker === 'listen') lines.push(`listen 127.0.0.1:${this.port};`);
      else if (marker === 'upstream') {
        if (!upstreamDone)
          for (const p of upstreams) lines.push(`server 127.0.0.1:${p} max_fails=2 fail_timeout=5s;`);
        upstreamDone = true;
      } else lines.push(line.replace(/^worker_processes .*/, 'worker_processes 1;'));
    }
    writeFileSync(join(this.dir, 'nginx.conf'), lines.join('\n'));
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const args = [
      '-p',
      this.dir,
      '-c',
      join(this.dir, 'nginx.conf'),
      '-e',
      join(this.dir, 'error.log'),
      '-g',
      'daemon off; master_process off;',
    ];
    execFileSync(NGINX!, [...args, '-t'], { stdio: 'pipe' });
    this.proc = spawn(NGINX!, args, { stdio: 'ignore' });
    await poll(
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${this.port}/healthz`)).ok;
        } catch {
          return false;
        }
      },
      5000,
      'nginx to answer',
    );
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      process.kill(p.pid!, 'SIGQUIT');
      const timer = setTimeout(() => p.exitCode === null && process.kill(p.pid!, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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
            GatewayProcess.start({ env: { TRUST_PROXY: String(trustProxy), MAX_CONNECTIONS_PER_IP: '1' } }),
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
