import { join, poll, PrivateRedis, startApp, TestClient, type TestApp } from '../harness/index.js';

/**
 * Back-pressure on client frames (gateway/inbound-limit.ts): past INBOUND_MAX_PENDING frames waiting
 * for Redis, a connection that sends another is no longer read until half are answered. Redis is
 * held with SIGSTOP for half a second (well under the one-second PING verdict that would drop the
 * connection), so the publications wait for it.
 */
describe('inbound back-pressure', () => {
  const redis = new PrivateRedis();
  let t: TestApp | undefined;
  const clients: TestClient[] = [];

  beforeAll(() => redis.start());
  afterAll(async () => {
    redis.signal('SIGCONT');
    for (const c of clients) c.terminate();
    await t?.close();
    await redis.dispose();
  });

  it('stops reading a sender past INBOUND_MAX_PENDING waiting frames, then handles them all in order', async () => {
    t = await startApp({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `inbound-${process.pid}:`,
      INBOUND_MAX_PENDING: '4',
      RATE_LIMIT_PER_SEC: '1000',
    });
    const sender = await TestClient.connect(t.wsUrl, { token: t.token('sender') });
    const other = await TestClient.connect(t.wsUrl, { token: t.token('other') });
    clients.push(sender, other);
    await join(sender, 'r');
    await join(other, 'r');

    redis.signal('SIGSTOP');
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    for (const id of ids) sender.send({ type: 'message', room: 'r', content: id, id });
    // Frames that came in the same read as the one that paused are still handled: the ping goes after.
    await poll(async () => t!.hub.counters.inboundPending === ids.length, 2000, 'the messages waiting');
    expect(t.hub.counters.readPauses).toBe(1);
    sender.send({ type: 'ping', id: 'after' });
    // A connection that sends only what is answered at once is still read.
    other.send({ type: 'ping', id: 'other' });
    expect(await other.next('pong', 2000)).toMatchObject({ id: 'other' });
    // The sender's ping waits behind its messages: its socket is paused.
    await expect(sender.next('pong', 400)).rejects.toThrow();
    expect(t.hub.counters.inboundPending).toBe(ids.length);
    redis.signal('SIGCONT');

    const acks = await sender.waitFor('ack', ids.length, 5000);
    expect(acks.map((a) => a.id)).toEqual(ids);
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await sender.next('pong', 3000)).toMatchObject({ id: 'after' });
    const got = await other.waitFor('message', ids.length, 5000);
    expect(got.map((m) => m.content)).toEqual(ids);
    expect(t.hub.counters.inboundPending).toBe(0);
    expect(sender.all('error')).toEqual([]);

    // Read again: a frame is answered at once.
    sender.send({ type: 'ping', id: 'again' });
    expect(await sender.next('pong', 2000, (f) => f.id === 'again')).toMatchObject({ id: 'again' });
  }, 30_000);
});
