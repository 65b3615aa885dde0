import { DrainService } from '../../src/health/drain.service.js';
import { PinoLoggerService } from '../../src/logging/pino-logger.service.js';
import {
  HandshakeRefused,
  join as joinRoom,
  LogCapture,
  startApp,
  TestClient,
  type TestApp,
  userToken,
} from '../harness/index.js';

async function get(url: string): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* text */
  }
  return { status: res.status, body, type: res.headers.get('content-type') };
}

/** The value of a sample line `name{labels} value` in Prometheus text. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('health, readiness, metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ DRAIN_SPREAD_MS: '400', SHUTDOWN_GRACE_MS: '5000' }, { logLevel: 'info' });
  });
  afterAll(() => t.close());

  it('GET /healthz is 200 with status ok', async () => {
    const r = await get(`${t.httpUrl}/healthz`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
  });

  it('GET /readyz is 200, and 503 while the bus is unhealthy', async () => {
    expect((await get(`${t.httpUrl}/readyz`)).status).toBe(200);
    t.hub.isHealthy = () => false;
    try {
      const r = await get(`${t.httpUrl}/readyz`);
      expect(r.status).toBe(503);
      expect(JSON.stringify(r.body)).toContain('bus');
    } finally {
      delete (t.hub as { isHealthy?: unknown }).isHealthy;
    }
    expect((await get(`${t.httpUrl}/readyz`)).status).toBe(200);
  });

  it('GET /metrics exposes the gateway metrics in Prometheus format', async () => {
    const a = await TestClient.connect(t.wsUrl, { token: userToken('m1') });
    const b = await TestClient.connect(t.wsUrl, { token: userToken('m2') });
    await joinRoom(a, 'metrics');
    await joinRoom(b, 'metrics', { since: 0 });
    a.send({ type: 'message', room: 'metrics', content: 'hi', id: 'm-1' });
    await b.next('message');
    a.send({ type: 'nonsense' });
    await a.next('error');
    await expect(TestClient.connect(t.wsUrl, { token: 'bad' })).rejects.toBeInstanceOf(HandshakeRefused);

    const r = await get(`${t.httpUrl}/metrics`);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = r.body as string;
    expect(m).toContain('# TYPE gateway_connections gauge');
    expect(sample(m, 'gateway_connections')).toBe(2);
    expect(sample(m, 'gateway_connects_total')).toBeGreaterThanOrEqual(2);
    expect(sample(m, 'gateway_handshake_refusals_total', 'reason="unauthorized"')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'gateway_frames_received_total', 'type="message"')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'gateway_frames_received_total', 'type="join"')).toBeGreaterThanOrEqual(2);
    expect(sample(m, 'gateway_frames_sent_total', 'type="message"')).toBeGreaterThanOrEqual(2);
    expect(sample(m, 'gateway_received_bytes_total')).toBeGreaterThan(0);
    expect(sample(m, 'gateway_sent_bytes_total')).toBeGreaterThan(0);
    expect(sample(m, 'gateway_errors_total', 'code="unknown_type"')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'gateway_slow_consumer_evictions_total')).toBe(0);
    expect(sample(m, 'gateway_rooms')).toBe(1);
    expect(sample(m, 'gateway_history_replays_total')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'gateway_history_not_recovered_total')).toBe(0);
    expect(m).toContain('# TYPE gateway_send_queue_depth histogram');
    expect(sample(m, 'gateway_send_queue_depth_count')).toBeGreaterThanOrEqual(2);
    expect(m).toContain('# TYPE gateway_fanout_latency_seconds histogram');
    expect(sample(m, 'gateway_fanout_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    // the message and the presence event went through the bus and came back
    expect(sample(m, 'gateway_bus_published_total')).toBeGreaterThanOrEqual(2);
    expect(sample(m, 'gateway_bus_received_total')).toBeGreaterThanOrEqual(2);
    expect(m).toContain('process_cpu_seconds_total');
    // Counters only go up; the queue-depth histogram accumulates samples scrape after scrape.
    const again = (await get(`${t.httpUrl}/metrics`)).body as string;
    expect(sample(again, 'gateway_send_queue_depth_count')).toBeGreaterThanOrEqual(4);
    a.close();
    b.close();
  });

  it('logs JSON lines with connection and user ids, never a token', async () => {
    const token = userToken('logged-user');
    const c = await TestClient.connect(`${t.wsUrl}?token=${token}`, {});
    const session = c.frames[0].session as string;
    c.close();
    await t.logs.waitForLine(
      (l) => l.includes('"disconnected"') && l.includes(session),
      'disconnect log',
      3000,
    );
    const connected = t.logs.entries.find((e) => e.msg === 'connected' && e.connectionId === session);
    expect(connected).toMatchObject({
      level: 'info',
      context: 'Connection',
      userId: 'logged-user',
      connectionId: session,
    });
    expect(t.logs.lines.join('\n')).not.toContain(token);

    // Direct use of the logger with secrets in text or fields.
    const capture = new LogCapture();
    const logger = new PinoLoggerService('debug', capture);
    logger.log(`upgrade GET /ws?rooms=a&token=${token}`, 'Test');
    logger.warn(
      { msg: 'request', headers: { authorization: `Bearer ${token}` }, url: `/ws?token=${token}` },
      'Test',
    );
    logger.error(`failed with Authorization: Bearer ${token}`, 'Error: x\n    at y', 'Test');
    logger.debug('debug line', 'Test');
    const out = capture.lines.join('\n');
    expect(capture.lines).toHaveLength(4);
    expect(out).not.toContain(token);
    expect(out).not.toContain(token.split('.')[2]);
    expect(out).toContain('[redacted]');
    expect(capture.entries[0]).toMatchObject({ level: 'info', context: 'Test' });
    const quiet = new LogCapture();
    new PinoLoggerService('warn', quiet).log('not shown');
    expect(quiet.lines).toHaveLength(0);
  });
});

describe('drain (in process)', () => {
  it('readyz turns 503 at once, new upgrades get 503, every socket closes 1001 "going away" spread over the window', async () => {
    const t = await startApp({ DRAIN_SPREAD_MS: '600', SHUTDOWN_GRACE_MS: '5000' }, { logLevel: 'info' });
    try {
      const clients = await Promise.all(
        Array.from({ length: 12 }, (_, i) => TestClient.connect(t.wsUrl, { token: userToken(`d${i}`) })),
      );
      for (const c of clients) await joinRoom(c, 'lobby');
      const closedAt: number[] = [];
      for (const c of clients) c.ws.once('close', () => closedAt.push(Date.now()));
      const drain = t.app.get(DrainService);
      const done = drain.drain();
      expect((await get(`${t.httpUrl}/readyz`)).status).toBe(503);
      const refused = await TestClient.connect(t.wsUrl, { token: userToken('late') }).catch((e) => e);
      expect(refused).toBeInstanceOf(HandshakeRefused);
      expect(refused.status).toBe(503);
      expect(refused.body.error).toBe('draining');
      const report = await done;
      expect(report).toMatchObject({ connections: 12, closed: 12, terminated: 0 });
      for (const c of clients) expect(await c.closed()).toEqual({ code: 1001, reason: 'going away' });
      const spread = Math.max(...closedAt) - Math.min(...closedAt);
      expect(spread).toBeGreaterThan(100);
      expect(spread).toBeLessThan(2000);
      expect((await get(`${t.httpUrl}/healthz`)).status).toBe(200);
      const metrics = (await get(`${t.httpUrl}/metrics`)).body as string;
      expect(sample(metrics, 'gateway_draining')).toBe(1);
      expect(sample(metrics, 'gateway_handshake_refusals_total', 'reason="draining"')).toBe(1);
    } finally {
      await t.close();
    }
  });
});
