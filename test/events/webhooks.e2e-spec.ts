import {
  connectAs as connect,
  deleteKeys,
  join as joinRoom,
  SHARED_REDIS_URL,
  startApp,
  type TestApp,
  type TestClient,
  uniquePrefix,
} from '../harness/index.js';
import { WebhookReceiver } from './webhook-receiver.js';

const SECRET = 'hook-secret-for-tests';

/**
 * Webhooks against a real local receiver that fails the first deliveries and is then down for a
 * while: every event arrives, every request is signed, each room's messages arrive in seq order.
 * Without Redis (one instance, its own buffer) and with Redis (two instances, one consumer group).
 */
describe.each([
  ['without Redis', false],
  ['with Redis, two instances', true],
])('webhooks %s', (_name, redis) => {
  const prefix = uniquePrefix();
  let receiver: WebhookReceiver;
  let apps: TestApp[] = [];
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(async () => {
    receiver = new WebhookReceiver(SECRET, 3);
    await receiver.start();
    const env: Record<string, string> = {
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_EVENTS: 'message,online,offline,joined,left',
      WEBHOOK_BATCH: '20',
      WEBHOOK_BATCH_MS: '20',
      WEBHOOK_TIMEOUT_MS: '1000',
      PRESENCE_GRACE_MS: '200',
      PRESENCE_TTL_MS: '1500',
      RATE_LIMIT_PER_SEC: '100000',
    };
    if (redis) Object.assign(env, { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix });
    apps = redis ? await Promise.all([startApp(env), startApp(env)]) : [await startApp(env)];
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await Promise.all(apps.map((a) => a.close()));
    await receiver.down();
    if (redis) await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('delivers every event, signed, in room order, through failures and an outage', async () => {
    const last = apps[apps.length - 1];
    const ana = track(await connect(apps[0].wsUrl, 'ana'));
    const bob = track(await connect(last.wsUrl, 'bob'));
    for (const room of ['r1', 'r2']) {
      await joinRoom(ana, room);
      await joinRoom(bob, room);
    }
    const send = async (c: TestClient, user: string, from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        c.send({ type: 'message', room: i % 2 ? 'r1' : 'r2', content: `${user}${i}`, id: `${user}${i}` });
      }
      await c.waitFor('ack', to, 10_000);
    };
    await Promise.all([send(ana, 'ana', 1, 50), send(bob, 'bob', 1, 50)]);
    // The first deliveries were answered 500; now the receiver goes away while more is sent.
    await receiver.waitFor('the first accepted delivery', (es) => es.length > 0);
    await receiver.down();
    await Promise.all([send(ana, 'ana', 51, 100), send(bob, 'bob', 51, 100)]);
    bob.close();
    await new Promise((r) => setTimeout(r, 1000)); // the outage lasts a while (retries back off)
    await receiver.start();

    await receiver.waitFor(
      '200 messages and bob offline',
      (es) =>
        es.filter((e) => e.type === 'message').length >= 200 &&
        es.some((e) => e.type === 'offline' && e.data.user.id === 'bob'),
    );
    const events = receiver.accepted();
    expect(receiver.deliveries.slice(0, 3).map((d) => d.status)).toEqual([500, 500, 500]);
    expect(receiver.deliveries.every((d) => d.valid)).toBe(true);
    expect(receiver.deliveries.every((d) => d.events.length <= 20)).toBe(true);
    const messages = events.filter((e) => e.type === 'message');
    expect(new Set(messages.map((e) => `${e.data.sender.id}/${e.data.id}`)).size).toBe(200);
    for (const room of ['r1', 'r2']) {
      const seqs = messages.filter((e) => e.data.room === room).map((e) => e.data.seq as number);
      expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    }
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(['joined', 'left', 'message', 'offline', 'online']);
    const online = events.filter((e) => e.type === 'online').map((e) => e.data.user.id as string);
    expect(online.sort()).toEqual(['ana', 'bob']);
    expect(events.find((e) => e.type === 'left' && e.data.user.id === 'bob')?.data).toMatchObject({
      reason: 'disconnect',
    });
  }, 60000);
});
