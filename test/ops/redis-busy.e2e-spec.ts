import type { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { openRedis } from '../../src/cluster/redis/connection.js';
import { poll, PrivateRedis } from '../harness/index.js';

/**
 * The PING that tells a hung Redis from a live one must not take a busy connection for a hung one: a
 * subscriber with seconds of messages to read gets its PING's reply after them. Dropping it lost the
 * messages still on the wire (a gateway near saturation reset every member of its rooms). Companion of
 * redis-hang.e2e-spec.ts, where Redis really hangs and readiness turns off.
 */
describe('a busy Redis connection is not a hung one', () => {
  const server = new PrivateRedis();
  let pub: Redis | undefined;
  let sub: Redis | undefined;

  beforeAll(async () => {
    await server.start();
    pub = new Redis(server.url);
    // Redis must not cut the slow subscriber off itself (its default pubsub buffer limit would).
    await pub.config('SET', 'client-output-buffer-limit', 'pubsub 0 0 0');
  });
  afterAll(async () => {
    sub?.disconnect();
    pub?.disconnect();
    await server.dispose();
  });

  it('keeps a subscriber whose PING reply waits behind seconds of messages, and loses none', async () => {
    const warnings: string[] = [];
    const logger = { log: () => undefined, warn: (m: string) => warnings.push(m) } as unknown as Logger;
    sub = openRedis(
      { url: server.url, keyPrefix: 'busy:', commandTimeoutMs: 5000 },
      'test-sub',
      logger,
    ) as Redis;
    let reconnects = 0;
    sub.on('reconnecting', () => reconnects++);
    if (sub.status !== 'ready') await new Promise((ready) => sub!.once('ready', ready));
    await sub.subscribe('busy');

    const count = 10_000;
    let received = 0;
    sub.on('message', () => {
      received++;
      // 0.4 ms of work per message: the backlog takes about 4 s to read, several PING intervals.
      const until = performance.now() + 0.4;
      while (performance.now() < until);
    });
    const payload = 'x'.repeat(1000);
    const flood = pub!.pipeline();
    for (let i = 0; i < count; i++) flood.publish('busy', payload);
    await flood.exec();

    await poll(async () => received === count || reconnects > 0, 25_000, 'every message, or a reconnect');
    expect(warnings.filter((w) => w.includes('PING'))).toEqual([]);
    expect(reconnects).toBe(0);
    expect(received).toBe(count);
    expect(sub.status).toBe('ready');
  }, 40_000);
});
