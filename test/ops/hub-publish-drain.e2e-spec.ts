import { type ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { hubPublishChannel } from '../../src/push/hub-publish-channel.js';
import {
  deleteKeys,
  type Frame,
  GatewayProcess,
  poll,
  SHARED_REDIS_URL,
  TestClient,
  uniquePrefix,
  userToken,
} from '../harness/index.js';

/**
 * `hub.publish` events during a rolling deploy: two instances of one deployment on the shared Redis
 * (their own REDIS_KEY_PREFIX), a producer emitting a stream of events with ids through a real Nest
 * ClientProxy, one instance drained (SIGTERM) mid-stream. Every instance receives every event and
 * one claims it: a draining instance that still consumed the channel claimed about half of them and
 * refused them, and its claims made the producer's re-emits `already_claimed`. A second deployment
 * (another prefix) on the same Redis must see none of them.
 */
describe('hub.publish across a drain (two instances, one Redis)', () => {
  const prefix = uniquePrefix();
  const otherPrefix = uniquePrefix();
  const room = 'orders';
  const gateways: GatewayProcess[] = [];
  const clients: TestClient[] = [];
  let producer: ClientProxy | undefined;
  let otherProducer: ClientProxy | undefined;

  const env = (keyPrefix: string): Record<string, string> => ({
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    DEDUP_WINDOW_MS: '60000',
    SHUTDOWN_GRACE_MS: '10000',
    // The drained instance's own clients are closed at random within 3 s: it drains mid-stream.
    DRAIN_SPREAD_MS: '3000',
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await producer?.close();
    await otherProducer?.close();
    await Promise.all(gateways.map((g) => g.kill()));
    await deleteKeys(SHARED_REDIS_URL, prefix);
    await deleteKeys(SHARED_REDIS_URL, otherPrefix);
  });

  const connect = async (g: GatewayProcess, user: string): Promise<TestClient> => {
    const c = await TestClient.connect(g.wsUrl, { token: userToken(user) });
    clients.push(c);
    return c;
  };
  const proxy = async (): Promise<ClientProxy> => {
    const url = new URL(SHARED_REDIS_URL);
    const p = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: { host: url.hostname, port: Number(url.port || 6379) },
    });
    await p.connect();
    return p;
  };

  it('loses no event and delivers none twice when an instance drains mid-stream', async () => {
    const [a, b, other] = await Promise.all([
      GatewayProcess.start({ env: env(prefix) }),
      GatewayProcess.start({ env: env(prefix) }),
      GatewayProcess.start({ env: env(otherPrefix) }),
    ]);
    gateways.push(a, b, other);
    const member = await connect(b, 'member');
    await member.join(room);
    const stranger = await connect(other, 'stranger');
    await stranger.join(room);
    // Clients on the instance that will drain, so that its drain lasts while the stream goes on.
    for (let i = 0; i < 8; i++) await connect(a, `holder-${i}`);

    producer = await proxy();
    otherProducer = await proxy();
    const channel = hubPublishChannel(prefix);
    const emit = (id: string) =>
      lastValueFrom(producer!.emit(channel, { room, content: `event ${id}`, id, sender: 'orders' }));

    const ids = Array.from({ length: 40 }, (_, i) => `evt-${i}`);
    const aExited = (async () => {
      for (let i = 0; i < ids.length; i++) {
        if (i === 10) a.proc.kill('SIGTERM');
        await emit(ids[i]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await aExited;
    expect(await a.exited).toBe(0);
    expect(a.log()).toContain(`no longer consuming ${channel}`);

    // The producer re-emits whatever the member has not seen (a producer's retry after a timeout).
    const seen = (id: string) => member.frames.some((f) => f.type === 'message' && f.id === id);
    await poll(() => ids.every(seen), 10_000, 'every event').catch(() => undefined);
    const missing = ids.filter((id) => !seen(id));
    for (const id of missing) await emit(id);
    await poll(() => ids.every(seen), 5000, `the re-emitted events ${missing.join(', ')}`);
    // Not even a re-emit was needed: the draining instance left every event to the other one (when
    // it still consumed the channel, it claimed about half of them and refused them).
    expect(missing).toEqual([]);

    // Rooms are delivered in order: a duplicate of any event would arrive before this marker.
    await member.say(room, 'marker', 'marker-1');
    const delivered = member.allBefore('message', (f: Frame) => f.id === 'marker-1').map((f) => f.id);
    expect(delivered.sort()).toEqual([...ids].sort());

    // The other deployment consumed none of it, and its own events stay its own.
    await lastValueFrom(
      otherProducer.emit(hubPublishChannel(otherPrefix), { room, content: 'theirs', id: 'evt-other' }),
    );
    const theirs = await stranger.next('message', 5000);
    expect(theirs).toMatchObject({ id: 'evt-other', content: 'theirs' });
    await member.say(room, 'marker', 'marker-2');
    expect(member.allBefore('message', (f: Frame) => f.id === 'marker-2').map((f) => f.id)).not.toContain(
      'evt-other',
    );
    expect(stranger.all('message').map((f) => f.id)).toEqual(['evt-other']);
  }, 60_000);
});
