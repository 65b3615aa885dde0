import { ClientProxyFactory, type ClientProxy, Transport } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { hubPublishChannel } from '../../src/push/hub-publish-channel.js';
import {
  GatewayProcess,
  join as joinRoom,
  poll,
  PrivateRedis,
  readyz,
  TestClient,
  userToken,
} from '../harness/index.js';

/**
 * Redis down when the gateway boots: the process starts and stays up, /readyz answers 503 until
 * Redis answers, then 200, and messaging (WebSocket and the hub.publish transport) works without a
 * restart.
 */
describe('Redis down at boot', () => {
  const redis = new PrivateRedis();
  let gw: GatewayProcess | undefined;
  let proxy: ClientProxy | undefined;
  const clients: TestClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.terminate();
    await proxy?.close();
    await gw?.stop();
    await redis.dispose();
  });

  it('starts, is unready until Redis answers, then ready and messaging works', async () => {
    const url = await redis.reserve(); // nothing listens there yet
    const prefix = `boot-${process.pid}:`;
    gw = await GatewayProcess.start({ env: { REDIS_URL: url, REDIS_KEY_PREFIX: prefix } });
    const http = gw.httpUrl;
    expect(await readyz(http)).toBe(503);
    expect((await fetch(`${http}/healthz`)).status).toBe(200);

    await redis.start();
    await poll(async () => (await readyz(http)) === 200, 10000, '/readyz 200 once Redis answers');

    const [a, b] = await Promise.all(
      ['boot-a', 'boot-b'].map((u) => TestClient.connect(gw!.wsUrl, { token: userToken(u) })),
    );
    clients.push(a, b);
    await joinRoom(a, 'boot');
    await joinRoom(b, 'boot');
    a.send({ type: 'message', room: 'boot', content: 'after the boot', id: 'boot-1' });
    expect(await a.next('ack')).toMatchObject({ id: 'boot-1', seq: 1 });
    expect(await b.next('message')).toMatchObject({ content: 'after the boot', seq: 1 });

    // The microservice transport subscribes once its connections are back (they retry every second;
    // the outage log's end line says every connection is).
    await poll(() => gw!.output.some((l) => l.includes('reachable again')), 5000, 'every connection up');
    proxy = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: { host: '127.0.0.1', port: redis.port },
    });
    await proxy.connect();
    await lastValueFrom(
      proxy.emit(hubPublishChannel(prefix), { room: 'boot', content: 'via transport', id: 'evt-1' }),
    );
    expect(await b.next('message', 5000)).toMatchObject({ content: 'via transport', seq: 2 });

    expect(gw.proc.exitCode).toBeNull();
    expect(gw.proc.signalCode).toBeNull();
  }, 30000);
});
