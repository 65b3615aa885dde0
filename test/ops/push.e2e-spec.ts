import http from 'node:http';
import {
  join as joinRoom,
  poll,
  post,
  serviceToken,
  startApp,
  TestClient,
  type TestApp,
  userToken,
} from '../harness/index.js';

describe('POST /api/publish', () => {
  let t: TestApp;
  const url = () => `${t.httpUrl}/api/publish`;
  const auth = (token = serviceToken()) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await startApp(
      { PUBLISH_MAX_BODY_BYTES: '1024', MAX_CONTENT_LENGTH: '100', SERVICE_RATE_LIMIT_PER_SEC: '1000' },
      { logLevel: 'info' },
    );
  });
  afterAll(() => t.close());

  it('publishes to a room: 202 {id, seq}, members receive it with the service as sender', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: userToken('alice') });
    const joined = await joinRoom(c, 'news');
    const res = await post(
      url(),
      { room: 'news', content: 'hello from billing' },
      auth(serviceToken('billing', { name: 'Billing' })),
    );
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), seq: joined.seq + 1 });
    const m = await c.next('message');
    expect(m).toMatchObject({
      room: 'news',
      seq: res.body.seq,
      id: res.body.id,
      content: 'hello from billing',
      sender: { id: 'billing', name: 'Billing' },
    });
    c.close();
  });

  it('Idempotency-Key: a retry answers the original {id, seq} and is not delivered twice', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: userToken('bob') });
    await joinRoom(c, 'orders');
    const headers = { ...auth(), 'idempotency-key': 'order-42-shipped' };
    const first = await post(url(), { room: 'orders', content: 'shipped' }, headers);
    const retry = await post(url(), { room: 'orders', content: 'shipped' }, headers);
    expect(first.status).toBe(202);
    expect(retry.status).toBe(202);
    expect(first.body).toEqual({ id: 'order-42-shipped', seq: expect.any(Number) });
    expect(retry.body).toEqual(first.body);
    // Concurrent retries too.
    const h2 = { ...auth(), 'idempotency-key': 'order-43' };
    const [a, b] = await Promise.all([
      post(url(), { room: 'orders', content: 'x' }, h2),
      post(url(), { room: 'orders', content: 'x' }, h2),
    ]);
    expect(a.body).toEqual(b.body);
    await c.waitFor('message', 2);
    // every publish was answered after its fan-out: c's pong follows any third copy
    await c.roundTrip();
    expect(c.all('message').map((m) => m.id)).toEqual(['order-42-shipped', 'order-43']);
    // The same key from another service is another message.
    const other = await post(
      url(),
      { room: 'orders', content: 'shipped' },
      { ...auth(serviceToken('crm')), 'idempotency-key': 'order-42-shipped' },
    );
    expect(other.body.seq).toBeGreaterThan(b.body.seq);
    c.close();
  });

  it('{to, content}: a direct frame to every connection of the user, deduplicated by Idempotency-Key', async () => {
    const c1 = await TestClient.connect(t.wsUrl, { token: userToken('carol') });
    const c2 = await TestClient.connect(t.wsUrl, { token: userToken('carol') });
    const headers = { ...auth(serviceToken('alerts')), 'idempotency-key': 'alert-1' };
    const res = await post(url(), { to: 'carol', content: 'your build passed' }, headers);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: 'alert-1' });
    for (const c of [c1, c2]) {
      expect(await c.next('direct')).toMatchObject({
        id: 'alert-1',
        to: 'carol',
        content: 'your build passed',
        sender: { id: 'alerts' },
      });
    }
    expect((await post(url(), { to: 'carol', content: 'your build passed' }, headers)).status).toBe(202);
    await c1.roundTrip();
    expect(c1.all('direct')).toHaveLength(1);
    c1.close();
    c2.close();
  });

  it.each([
    ['no room nor to', { content: 'x' }, 'room'],
    ['no content', { room: 'r' }, 'content'],
    ['content not a string', { room: 'r', content: 5 }, 'content'],
    ['a bad room name', { room: 'no spaces allowed', content: 'x' }, 'room'],
    ['room and to', { room: 'r', to: 'u', content: 'x' }, 'to'],
    ['to too long', { to: 'u'.repeat(129), content: 'x' }, 'to'],
    ['content over MAX_CONTENT_LENGTH', { room: 'r', content: 'x'.repeat(101) }, 'content'],
  ])('400 with field details: %s', async (_name, body, field) => {
    const res = await post(url(), body, auth());
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
    expect(res.body.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, problem: expect.any(String) })]),
    );
  });

  it('400 for bad JSON and a bad Idempotency-Key; 415 without a JSON content type', async () => {
    expect((await post(url(), '{"room":', auth())).status).toBe(400);
    const bad = await post(
      url(),
      { room: 'r', content: 'x' },
      { ...auth(), 'idempotency-key': 'k'.repeat(65) },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('Idempotency-Key');
    const res = await fetch(url(), {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(res.status).toBe(415);
  });

  it('401 without a token or with an invalid one; 403 without the publish scope', async () => {
    const none = await post(url(), { room: 'r', content: 'x' });
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('unauthorized');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await post(url(), { room: 'r', content: 'x' }, auth('not.a.jwt'))).status).toBe(401);
    expect(
      (await post(url(), { room: 'r', content: 'x' }, auth(serviceToken('svc', {}, { expiresIn: -10 }))))
        .status,
    ).toBe(401);
    const user = await post(url(), { room: 'r', content: 'x' }, auth(userToken('mallory')));
    expect(user.status).toBe(403);
    expect(user.body.error).toBe('forbidden');
    expect(
      (await post(url(), { room: 'r', content: 'x' }, auth(serviceToken('svc', { scope: 'read' })))).status,
    ).toBe(403);
    expect(
      (await post(url(), { room: 'r', content: 'x' }, auth(serviceToken('svc', { scope: 'read publish' }))))
        .status,
    ).toBe(202);
  });

  it('413 for a body over PUBLISH_MAX_BODY_BYTES, declared or streamed', async () => {
    const big = { room: 'r', content: 'x'.repeat(2000) };
    const res = await post(url(), big, auth());
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
    // Chunked (no Content-Length): cut off while streaming.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        url(),
        {
          method: 'POST',
          headers: { ...auth(), 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"room":"r","content":"');
      for (let i = 0; i < 4; i++) req.write('y'.repeat(500));
      req.end('"}');
    });
    expect(status).toBe(413);
  });

  it('503 while draining, and while the bus is unavailable', async () => {
    const d = await startApp({}, { logLevel: 'info' });
    try {
      // The bus reports itself unreachable (as the Redis broker does while Redis is down).
      d.hub.isHealthy = () => false;
      const down = await post(`${d.httpUrl}/api/publish`, { room: 'r', content: 'x' }, auth());
      expect(down.status).toBe(503);
      expect(down.body.error).toBe('unavailable');
      delete (d.hub as { isHealthy?: unknown }).isHealthy;
      expect((await post(`${d.httpUrl}/api/publish`, { room: 'r', content: 'x' }, auth())).status).toBe(202);
      d.hub.startDraining();
      const draining = await post(`${d.httpUrl}/api/publish`, { room: 'r', content: 'x' }, auth());
      expect(draining.status).toBe(503);
      expect(draining.body.error).toBe('draining');
      expect(draining.headers.get('retry-after')).toBe('1');
    } finally {
      await d.close();
    }
  });
});

describe('POST /api/publish rate limit', () => {
  it('429 over SERVICE_RATE_LIMIT_PER_SEC per service, other services unaffected', async () => {
    const t = await startApp({ SERVICE_RATE_LIMIT_PER_SEC: '3' }, { logLevel: 'info' });
    try {
      const send = (sub: string) =>
        post(
          `${t.httpUrl}/api/publish`,
          { room: 'r', content: 'x' },
          { authorization: `Bearer ${serviceToken(sub)}` },
        );
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await send('chatty')).status);
      expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
      expect(statuses.slice(3)).toEqual([429, 429]);
      const limited = await send('chatty');
      expect(limited.body.error).toBe('rate_limited');
      expect(limited.headers.get('retry-after')).toBeTruthy();
      expect((await send('quiet')).status).toBe(202);
      await poll(async () => (await send('chatty')).status === 202, 3000, 'bucket refill');
    } finally {
      await t.close();
    }
  });
});
