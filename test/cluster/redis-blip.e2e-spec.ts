import WebSocket from 'ws';
import { GatewayClient } from '../../src/client/gateway-client.js';
import {
  ClientRecorder,
  GatewayProcess,
  PrivateRedis,
  signToken,
  TestClient,
  TEST_SECRET,
} from '../harness/index.js';

/**
 * A Redis outage of a few seconds under a well-behaved typed client: its sends get `unavailable`,
 * which is the server's failure, not the client's. The connection stays up (the server's own errors
 * do not count toward ERROR_LIMIT: they once closed it 1008 "too many errors", and the client then
 * went offline asking for a new token), and the client retries each send with the same id, with
 * backoff, until it is acked: every send is acked once and published once.
 */
describe('a Redis blip under a typed client', () => {
  const redis = new PrivateRedis(true);
  let gw: GatewayProcess | undefined;
  let client: GatewayClient | undefined;
  const raw: TestClient[] = [];

  beforeAll(async () => {
    await redis.start();
    gw = await GatewayProcess.start({
      env: {
        REDIS_URL: redis.url,
        ERROR_LIMIT: '3',
        ERROR_WINDOW_MS: '30000',
        REDIS_COMMAND_TIMEOUT_MS: '500',
        RATE_LIMIT_PER_SEC: '50',
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    for (const c of raw) c.close();
    await gw?.kill();
    await redis.dispose();
  });

  const token = (sub: string): string => {
    const now = Math.floor(Date.now() / 1000);
    return signToken({ sub, name: sub, iat: now, exp: now + 3600 }, { key: TEST_SECRET });
  };

  it('keeps the connection and acks every send exactly once across a 3 s Redis outage', async () => {
    client = new GatewayClient({
      url: gw!.wsUrl,
      token: token('steady'),
      WebSocketImpl: WebSocket,
      reconnect: { minMs: 50, maxMs: 2000 },
      retryDelayMs: 200,
      maxSendRetries: 12,
    });
    const rec = new ClientRecorder(client);
    await client.connect();
    await client.join('blip');

    const sends: Promise<unknown>[] = [];
    const ids: string[] = [];
    const send = (n: number) => {
      const id = `blip-${n}`;
      ids.push(id);
      sends.push(client!.send('blip', `m${n}`, { id }));
    };
    for (let n = 0; n < 3; n++) send(n);
    await Promise.all(sends);

    await redis.stop();
    // Sends while Redis is down: each is answered `unavailable` and retried.
    for (let n = 3; n < 10; n++) {
      send(n);
      await new Promise((r) => setTimeout(r, 300));
    }
    await rec.waitFor('unavailable errors', () =>
      rec.events.some((e) => e.type === 'error' && (e.data as { code?: string }).code === 'unavailable'),
    );
    await redis.start();
    for (let n = 10; n < 13; n++) send(n);
    const results = await Promise.all(sends);

    expect(results.map((r) => (r as { id: string }).id)).toEqual(ids);
    const acks = rec.of('ack').map((a) => a.id);
    expect([...acks].sort()).toEqual([...ids].sort());
    expect(rec.of('close')).toEqual([]);
    expect(rec.statuses().filter((s) => s === 'reconnecting' || s === 'offline')).toEqual([]);

    // Published once each: the room's history holds every message exactly once.
    const reader = await TestClient.connect(gw!.wsUrl, { token: token('reader') });
    raw.push(reader);
    await reader.join('blip', { since: 0 });
    await reader.roundTrip();
    const contents = reader.all('message').map((f) => f.content as string);
    expect(contents.sort()).toEqual(ids.map((id) => `m${id.slice(5)}`).sort());
  }, 60_000);
});
