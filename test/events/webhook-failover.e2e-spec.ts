import { Redis } from 'ioredis';
import {
  connectAs as connect,
  deleteKeys,
  GatewayProcess,
  join as joinRoom,
  poll,
  SHARED_REDIS_URL,
  type TestClient,
  uniquePrefix,
} from '../harness/index.js';
import { StreamReader } from './stream-kit.js';
import { WebhookReceiver } from './webhook-receiver.js';

const SECRET = 'hook-secret-for-failover';

/**
 * With Redis, one instance delivers webhooks; when it is SIGKILLed with deliveries pending (the
 * receiver is down), another takes the lease, claims what the first had read and delivers it.
 */
describe('webhooks when the delivering instance dies', () => {
  const prefix = uniquePrefix();
  let receiver: WebhookReceiver;
  let x: GatewayProcess;
  let y: GatewayProcess;
  let stream: StreamReader;
  let admin: Redis;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(async () => {
    receiver = new WebhookReceiver(SECRET);
    await receiver.start();
    const env = {
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      PRESENCE_TTL_MS: '1500',
      AUTH_DEV_TOKENS: 'false',
      RATE_LIMIT_PER_SEC: '100000',
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_EVENTS: 'message',
      WEBHOOK_BATCH: '10',
      WEBHOOK_BATCH_MS: '20',
      WEBHOOK_TIMEOUT_MS: '500',
    };
    [x, y] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
    stream = new StreamReader(SHARED_REDIS_URL, prefix);
    admin = new Redis(SHARED_REDIS_URL, { protocol: 2, maxRetriesPerRequest: 1 });
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([x?.kill(), y?.kill()]);
    stream?.close();
    admin?.disconnect();
    await receiver.down();
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('another instance delivers what the dead one had read', async () => {
    // Which process leads: its `connected` events name its instance, the leader key holds one.
    const onX = track(await connect(x.wsUrl, 'ana'));
    const onY = track(await connect(y.wsUrl, 'bob'));
    const events = await stream.waitFor(
      'two connected events',
      (es) => es.filter((e) => e.type === 'connected').length >= 2,
    );
    const instanceOf = (user: string) =>
      events.find((e) => e.type === 'connected' && e.data.user.id === user)!.data.instance;
    const leaderId = await admin.get(`${prefix}events:webhook-leader`);
    expect([instanceOf('ana'), instanceOf('bob')]).toContain(leaderId);
    const [leader, sender, other] = leaderId === instanceOf('ana') ? [x, onY, y] : [y, onX, x];

    await joinRoom(sender, 'f');
    await receiver.down();
    for (let i = 1; i <= 30; i++) sender.send({ type: 'message', room: 'f', content: `m${i}`, id: `m${i}` });
    await sender.waitFor('ack', 30, 10_000);
    // The leader has read (and is retrying) what was published; it dies with it pending.
    const group = async () =>
      (await admin.xpending(`${prefix}events`, 'gateway-webhooks')) as [number, ...unknown[]];
    await poll(async () => (await group())[0] > 0, 5000, 'entries pending in the webhook group');
    await leader.kill('SIGKILL');
    await receiver.start();

    await receiver.waitFor(
      '30 messages',
      (es) => es.filter((e) => e.type === 'message').length >= 30,
      20_000,
    );
    const seqs = receiver
      .accepted()
      .filter((e) => e.type === 'message')
      .map((e) => e.data.seq as number);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(receiver.deliveries.every((d) => d.valid)).toBe(true);
    expect(await admin.get(`${prefix}events:webhook-leader`)).not.toBe(leaderId);
    expect(other.running).toBe(true);
  }, 40000);
});
