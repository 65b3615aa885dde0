import WebSocket from 'ws';
import { GatewayClient } from '../../src/client/gateway-client.js';
import { GatewayError } from '../../src/client/gateway-error.js';
import { join, startApp, TestClient, type TestApp } from '../harness/index.js';

describe('publish rights: the `publish` claim', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1000' });
  });
  afterAll(() => t.close());

  const connect = (sub: string, claims: Record<string, unknown> = {}) =>
    TestClient.connect(t.wsUrl, { token: t.token(sub, claims) });

  it('a member may read a room its publish claim does not name, not post to it', async () => {
    const reader = await connect('reader', { rooms: ['news', 'team:*'], publish: ['team:*'] });
    const writer = await connect('writer');
    const news = await join(reader, 'news');
    expect(news.publish).toBe(false);
    await join(writer, 'news');
    reader.send({ type: 'message', room: 'news', content: 'may I?', id: 'r1' });
    expect(await reader.next('error', 3000, (f) => f.ref === 'r1')).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('publishing to room "news"'),
    });
    await writer.say('news', 'headline', 'w1');
    expect(await reader.next('message')).toMatchObject({ room: 'news', seq: 1, content: 'headline' });

    const team = await join(reader, 'team:red');
    expect(team.publish).toBeUndefined();
    expect((await reader.say('team:red', 'from the team', 'r2')).seq).toBe(1);
    await reader.closeAndWait();
    await writer.closeAndWait();
  });

  it('an empty publish claim is read-only everywhere; no claim keeps the old rule; a bad claim is 401', async () => {
    const ro = await connect('ro', { publish: [] });
    expect((await join(ro, 'any')).publish).toBe(false);
    ro.send({ type: 'message', room: 'any', content: 'x', id: 'x1' });
    expect(await ro.next('error', 3000, (f) => f.ref === 'x1')).toMatchObject({ code: 'forbidden' });
    const rw = await connect('rw');
    expect((await join(rw, 'any')).publish).toBeUndefined();
    expect((await rw.say('any', 'fine', 'y1')).seq).toBe(1);
    await expect(connect('bad', { publish: 'news' })).rejects.toMatchObject({
      status: 401,
      body: { error: 'unauthorized', message: 'publish claim must be a list of strings' },
    });
    await ro.closeAndWait();
    await rw.closeAndWait();
  });

  it('the typed client rejects the send with the forbidden error and reports joined.publish', async () => {
    const client = new GatewayClient({
      url: t.wsUrl,
      token: t.token('typed', { publish: ['elsewhere'] }),
      WebSocketImpl: WebSocket,
    });
    try {
      await client.connect();
      const joined = await client.join('lobby');
      expect(joined.publish).toBe(false);
      const err = await client.send('lobby', 'hello').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ code: 'forbidden' });
    } finally {
      await client.close();
    }
  });
});
