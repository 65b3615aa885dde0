// GET /metrics at scale and during a drain: with thousands of idle connections the gauges stay right
// and no default metric lists every handle (the built server); a scrape walks no connection or user
// (in process: the registry's maps are watched during real scrapes); the frames queued for a reader
// that stopped reading are counted; /metrics and the connection log keep working while a SIGTERM
// drain runs.

import { jest } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import {
  GatewayProcess,
  join as joinRoom,
  PROJECT_ROOT,
  poll,
  PrivateRedis,
  startApp,
  TestClient,
  userToken,
} from '../harness/index.js';

jest.setTimeout(120_000);

async function scrape(gw: GatewayProcess): Promise<string> {
  const res = await fetch(`${gw.httpUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of an unlabelled sample (`name value`), or undefined when absent. */
function sample(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Starts idle-connections.mjs and resolves once all its connections are welcomed. */
async function openIdle(gw: GatewayProcess, count: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'test/ops/idle-connections.mjs')], {
    env: { ...process.env, URL: gw.wsUrl, TOKEN: userToken('idle'), COUNT: String(count) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`idle connections not open in 60 s: ${errors}`)), 60_000);
    createInterface({ input: child.stdout }).once('line', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`idle-connections exited ${code}: ${errors}`));
    });
  });
  return child;
}

async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin!.end();
  await exited;
}

describe('GET /metrics cost and gauges', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await GatewayProcess.start({
      env: {
        MAX_CONNECTIONS_PER_IP: '0',
        MAX_CONNECTIONS_PER_USER: '0',
        RATE_LIMIT_PER_SEC: '1000',
        MAX_MESSAGE_BYTES: String(1024 * 1024),
        MAX_CONTENT_LENGTH: String(512 * 1024),
        SEND_QUEUE_MESSAGES: '100000',
        SEND_QUEUE_BYTES: String(512 * 1024 * 1024),
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('keeps its gauges right with 8000 idle connections, and lists no handle', async () => {
    const child = await openIdle(gw, 8000);
    try {
      const text = await scrape(gw);
      expect(sample(text, 'gateway_connections')).toBe(8000);
      expect(sample(text, 'gateway_users')).toBe(1);
      // No default metric that lists every handle of the process.
      expect(text).not.toMatch(/^nodejs_active_handles/m);
      expect(text).not.toMatch(/^nodejs_active_resources/m);
      expect(text).toMatch(/^process_open_fds \d+/m);
    } finally {
      await endChild(child);
    }
    await poll(
      async () => sample(await scrape(gw), 'gateway_connections') === 0,
      10_000,
      'connections back to 0',
    );
  });

  it('counts the frames queued for a reader that stopped reading, and forgets them when it goes', async () => {
    const stuck = await TestClient.connect(gw.wsUrl, { token: userToken('stuck') });
    const writer = await TestClient.connect(gw.wsUrl, { token: userToken('writer') });
    await joinRoom(stuck, 'firehose');
    await joinRoom(writer, 'firehose');
    // The reader stops reading: the kernel buffers fill, then the gateway's queue.
    (stuck.ws as unknown as { _socket: Socket })._socket.pause();
    const content = 'x'.repeat(400 * 1024);
    for (let i = 0; i < 60; i++) writer.send({ type: 'message', room: 'firehose', content, id: `m${i}` });
    await writer.waitFor('ack', 60, 30_000);

    let text = '';
    await poll(
      async () => {
        text = await scrape(gw);
        return (sample(text, 'gateway_send_queue_frames') ?? 0) > 0;
      },
      30_000,
      'frames queued for the stuck reader',
    );
    expect(sample(text, 'gateway_connections')).toBe(2);
    expect(sample(text, 'gateway_send_queue_bytes')).toBeGreaterThan(400 * 1024);
    // The depth histogram saw one connection above 0 frames at that scrape.
    const count = sample(text, 'gateway_send_queue_depth_count')!;
    const zero = Number(/^gateway_send_queue_depth_bucket\{le="0"\} (\S+)$/m.exec(text)![1]);
    expect(count - zero).toBeGreaterThanOrEqual(1);

    stuck.ws.terminate();
    await poll(
      async () => {
        text = await scrape(gw);
        return sample(text, 'gateway_connections') === 1;
      },
      10_000,
      'the stuck reader gone',
    );
    expect(sample(text, 'gateway_send_queue_frames')).toBe(0);
    expect(sample(text, 'gateway_send_queue_bytes')).toBe(0);
    await writer.closeAndWait();
  });
});

describe('GET /metrics walks no connection', () => {
  it("reads running totals: no scrape iterates the registry's connections or users", async () => {
    const t = await startApp({ MAX_CONNECTIONS_PER_IP: '0', MAX_CONNECTIONS_PER_USER: '0' });
    const clients: TestClient[] = [];
    try {
      for (let i = 0; i < 50; i++)
        clients.push(await TestClient.connect(t.wsUrl, { token: t.token(`m${i % 5}`) }));
      // Every way to iterate the registry's per-connection and per-user maps, counted when a scrape
      // (MetricsService, its gauges, prom-client's collect) is on the stack. The sweeper's pass
      // walks them too, and is not a scrape.
      const registry = (t.hub as unknown as { registry: Record<string, Map<unknown, unknown>> }).registry;
      const walks: string[] = [];
      for (const field of ['connections', 'byUser']) {
        const map = registry[field];
        expect(map.size).toBeGreaterThan(0);
        for (const method of ['values', 'keys', 'entries', 'forEach', Symbol.iterator] as const) {
          const own = (map[method] as (...args: unknown[]) => unknown).bind(map);
          Object.defineProperty(map, method, {
            configurable: true,
            value: (...args: unknown[]) => {
              const stack = new Error().stack ?? '';
              if (/metrics\.service|prom-client/.test(stack)) walks.push(`${field}.${String(method)}`);
              return own(...args);
            },
          });
        }
      }
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${t.httpUrl}/metrics`);
        const text = await res.text();
        expect(sample(text, 'gateway_connections')).toBe(50);
        expect(sample(text, 'gateway_users')).toBe(5);
      }
      expect(walks).toEqual([]);
    } finally {
      for (const c of clients) c.close();
      await t.close();
    }
  });
});

describe('/metrics and the connection log during a SIGTERM drain', () => {
  it('answers with data while draining and logs the disconnects of the drain', async () => {
    const gw = await GatewayProcess.start({
      env: { SHUTDOWN_GRACE_MS: '8000', DRAIN_SPREAD_MS: '3000' },
    });
    try {
      const users = ['drain-a', 'drain-b', 'drain-c'];
      const clients = await Promise.all(
        users.map((u) => TestClient.connect(gw.wsUrl, { token: userToken(u) })),
      );
      gw.proc.kill('SIGTERM');
      let text = '';
      await poll(
        async () => {
          text = await scrape(gw);
          return sample(text, 'gateway_draining') === 1;
        },
        5000,
        '/metrics reporting the drain',
      );
      expect(sample(text, 'gateway_ready')).toBe(0);
      expect(sample(text, 'gateway_connections')).toBeGreaterThan(0);
      expect(text).toMatch(/^gateway_connects_total 3$/m);

      const closes = await Promise.all(clients.map((c) => c.closed(10_000)));
      for (const close of closes) expect(close.code).toBe(1001);
      expect(await gw.exited).toBe(0);
      for (const user of users) {
        expect(gw.output.some((l) => l.includes('"disconnected"') && l.includes(`"${user}"`))).toBe(true);
      }
    } finally {
      await gw.kill();
    }
  });
});

describe('gateway_redis_up', () => {
  it('is absent without Redis, 1 while Redis answers and 0 while it does not', async () => {
    const memory = await GatewayProcess.start();
    try {
      const text = await scrape(memory);
      expect(sample(text, 'gateway_connections')).toBe(0);
      expect(text).not.toContain('gateway_redis_up');
    } finally {
      await memory.stop();
    }

    const redis = new PrivateRedis(false);
    await redis.start();
    const gw = await GatewayProcess.start({ env: { REDIS_URL: redis.url } });
    try {
      await poll(async () => sample(await scrape(gw), 'gateway_redis_up') === 1, 10_000, 'redis up');
      await redis.stop();
      await poll(async () => sample(await scrape(gw), 'gateway_redis_up') === 0, 10_000, 'redis down');
      await redis.start();
      await poll(async () => sample(await scrape(gw), 'gateway_redis_up') === 1, 15_000, 'redis back');
    } finally {
      await gw.kill();
      await redis.dispose();
    }
  });
});
