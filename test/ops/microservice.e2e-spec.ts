import { ClientProxyFactory, type ClientProxy, Transport } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { hubPublishChannel } from '../../src/push/hub-publish-channel.js';
import { join as joinRoom, poll, startApp, TestClient, type TestApp, userToken } from '../harness/index.js';

/**
 * A real Nest ClientProxy (Redis transport) against the real Redis on 127.0.0.1:6379 and the gateway
 * running as a hybrid app (REDIS_URL set): `emit('<REDIS_KEY_PREFIX>hub.publish', …)` reaches the room.
 */
describe('hub.publish over the Nest microservices Redis transport', () => {
  let t: TestApp;
  let client: ClientProxy;
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    t = await startApp({ REDIS_URL: 'redis://127.0.0.1:6379' }, { logLevel: 'info', microservices: true });
    client = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: { host: '127.0.0.1', port: 6379 },
    });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  const pushEvents = async (result: string): Promise<number> => {
    const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`gateway_push_events_total{result="${result}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('delivers an emitted hub.publish to the room once, even when re-emitted with the same id', async () => {
    const room = `ms-${run}`;
    const c = await TestClient.connect(t.wsUrl, { token: userToken('ms-user') });
    const joined = await joinRoom(c, room);
    const id = `evt-${run}-1`;
    await lastValueFrom(
      client.emit(hubPublishChannel(t.config.redisKeyPrefix), {
        room,
        content: 'from a microservice',
        id,
        sender: 'orders',
      }),
    );
    const m = await c.next('message', 5000);
    expect(m).toMatchObject({
      room,
      id,
      seq: joined.seq + 1,
      content: 'from a microservice',
      sender: { id: 'orders' },
    });
    await lastValueFrom(
      client.emit(hubPublishChannel(t.config.redisKeyPrefix), {
        room,
        content: 'from a microservice',
        id,
        sender: 'orders',
      }),
    );
    await poll(async () => (await pushEvents('already_claimed')) >= 1, 5000, 'the re-emit to be seen');
    // Rooms are delivered in order: a copy of the re-emit would reach c before a message sent after it.
    await c.say(room, 'marker', `marker-${run}-1`);
    expect((await c.next('message', 5000)).id).toBe(`marker-${run}-1`);
    c.close();
  });

  it('sends {to, content} events as direct frames', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: userToken(`ms-to-${run}`) });
    await lastValueFrom(
      client.emit(hubPublishChannel(t.config.redisKeyPrefix), {
        to: `ms-to-${run}`,
        content: 'ping',
        id: `evt-${run}-2`,
      }),
    );
    expect(await c.next('direct', 5000)).toMatchObject({
      to: `ms-to-${run}`,
      content: 'ping',
      id: `evt-${run}-2`,
      sender: { id: 'service' },
    });
    c.close();
  });

  it('drops (and counts) an invalid event without delivering anything', async () => {
    const room = `ms-bad-${run}`;
    const c = await TestClient.connect(t.wsUrl, { token: userToken('ms-user2') });
    await joinRoom(c, room);
    const before = await pushEvents('invalid');
    await lastValueFrom(client.emit(hubPublishChannel(t.config.redisKeyPrefix), { room, content: 'no id' }));
    await lastValueFrom(
      client.emit(hubPublishChannel(t.config.redisKeyPrefix), {
        room: 'bad room!',
        content: 'x',
        id: `evt-${run}-3`,
      }),
    );
    await poll(async () => (await pushEvents('invalid')) >= before + 2, 5000, 'invalid events counted');
    // Rooms are delivered in order: anything delivered for the invalid events would come first.
    await c.say(room, 'marker', `marker-${run}-3`);
    expect((await c.next('message', 5000)).id).toBe(`marker-${run}-3`);
    c.close();
  });
});
