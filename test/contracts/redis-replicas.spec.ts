import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { BrokerUnavailableError } from '../../src/cluster/broker.js';
import { RedisKeys } from '../../src/cluster/redis/keys.js';
import { RedisBroker } from '../../src/cluster/redis/redis-broker.js';
import { ReplicaConfirmation } from '../../src/cluster/redis/replica-confirmation.js';
import { PrivateRedis } from '../harness/redis.js';
import { poll } from '../harness/wait.js';
import { brokerContract, Recorder } from './broker.contract.js';
import { msg, uniqueName } from './contract-kit.js';
import { RedisNamespace } from './redis-test-kit.js';

Logger.overrideLogger(false);

/**
 * REDIS_MIN_REPLICAS=1 on a private master with one replica: the broker keeps every guarantee of
 * the contract, and a publication is acked, delivered and visible in history only once the replica
 * has it.
 */
const master = new PrivateRedis();
const replica = new PrivateRedis();

beforeAll(async () => {
  await Promise.all([master.start(), replica.start()]);
  const r = new Redis(replica.url);
  await r.replicaof('127.0.0.1', master.port);
  await poll(async () => (await r.info('replication')).includes('master_link_status:up'), 10_000, 'sync');
  r.disconnect();
}, 20_000);
afterAll(async () => {
  if (replica.port !== 0) replica.signal('SIGCONT');
  await Promise.all([master.dispose(), replica.dispose()]);
});

async function brokerIn(ns: RedisNamespace, historySize = 5, waitMs = 1000): Promise<RedisBroker> {
  const shared = await ns.connection();
  const options = { ...ns.settings(), historySize, roomTtlMs: 60000 };
  const replicas = new ReplicaConfirmation({ ...options, minReplicas: 1, waitMs }, shared.redis);
  const broker = new RedisBroker(options, shared, replicas);
  ns.track(() => broker.close());
  await poll(() => broker.isHealthy(), 3000, 'broker connected');
  return broker;
}

brokerContract('redis with REDIS_MIN_REPLICAS=1', () => {
  const ns = new RedisNamespace(master.url);
  return { create: (historySize) => brokerIn(ns, historySize), dispose: () => ns.dispose() };
});

describe('REDIS_MIN_REPLICAS=1', () => {
  let ns: RedisNamespace;
  let onReplica: Redis;
  beforeEach(() => {
    ns = new RedisNamespace(master.url);
    onReplica = new Redis(replica.url, { lazyConnect: true });
  });
  afterEach(async () => {
    replica.signal('SIGCONT');
    onReplica.disconnect();
    await ns.dispose();
  });

  it('an acked message is already on the replica', async () => {
    const broker = await brokerIn(ns, 100);
    const room = uniqueName('room');
    const keys = new RedisKeys(ns.prefix);
    for (let i = 1; i <= 20; i++) {
      const m = await broker.publish(msg(room, `m${i}`));
      // Stored (pending) or already confirmed (history): either way the replica has it.
      const held =
        (await onReplica.zcount(keys.pending(room), m.seq, m.seq)) +
        (await onReplica.zcount(keys.log(room), m.seq, m.seq));
      expect(held).toBe(1);
    }
  });

  it('without the replica: `unavailable`, not delivered, not in history; a retry with the id acks it once', async () => {
    const broker = await brokerIn(ns, 100, 300);
    const rec = new Recorder();
    broker.setHandler(rec);
    const room = uniqueName('room');
    await broker.subscribeRoom(room);
    await broker.publish(msg(room, 'before'), { idempotencyKey: 'k0', idempotentResultTtlMs: 60000 });
    replica.signal('SIGSTOP'); // a replica that lags (stopped): WAIT sees none in time
    const m = msg(room, 'lagging');
    await expect(
      broker.publish(m, { idempotencyKey: 'k1', idempotentResultTtlMs: 60000 }),
    ).rejects.toBeInstanceOf(BrokerUnavailableError);
    const slice = await broker.history(room, 0);
    expect(slice.seq).toBe(1);
    expect(slice.messages.map((x) => x.content)).toEqual(['before']);
    expect(rec.seqs(room)).toEqual([1]);

    replica.signal('SIGCONT');
    const retried = await broker.publish(m, { idempotencyKey: 'k1', idempotentResultTtlMs: 60000 });
    expect(retried.seq).toBe(2);
    const after = await broker.publish(msg(room, 'after'));
    expect(after.seq).toBe(3);
    await poll(() => rec.seqs(room).length >= 3, 3000, 'three deliveries');
    expect(rec.seqs(room)).toEqual([1, 2, 3]);
    expect(rec.messages.map((x) => x.content)).toEqual(['before', 'lagging', 'after']);
    expect((await broker.history(room, 1)).messages.map((x) => x.content)).toEqual(['lagging', 'after']);
  });

  it('a confirmation lost in a crash (message pending, seq behind) is settled by a resume past the seq', async () => {
    const broker = await brokerIn(ns, 100);
    const room = uniqueName('room');
    const keys = new RedisKeys(ns.prefix);
    for (let i = 1; i <= 3; i++) await broker.publish(msg(room, `m${i}`));
    const { epoch } = await broker.history(room);
    // What a promoted replica holds when the confirmation of seq 3 had not reached it: 3 is stored
    // (WAIT saw it) but the room's seq is 2. Members already have 3.
    const admin = new Redis(master.url);
    const [third] = await admin.zrangebyscore(keys.log(room), 3, 3);
    await admin.zadd(keys.pending(room), 3, third);
    await admin.zremrangebyscore(keys.log(room), 3, 3);
    await admin.hset(keys.meta(room), 'seq', 2);
    admin.disconnect();
    const slice = await broker.history(room, 3, epoch);
    expect(slice).toMatchObject({ seq: 3, epoch, recovered: true, messages: [] });
    expect((await broker.history(room, 2, epoch)).messages.map((m) => m.content)).toEqual(['m3']);
    expect((await broker.publish(msg(room, 'm4'))).seq).toBe(4);
  });

  it("skipped seqs of a lost room's epoch do not cover a loss in the new one", async () => {
    const broker = await brokerIn(ns);
    const room = uniqueName('room');
    const keys = new RedisKeys(ns.prefix);
    for (let i = 1; i <= 2; i++) await broker.publish(msg(room, `e${i}`), { skipHistory: true });
    expect(await broker.history(room, 0)).toMatchObject({ seq: 2, recovered: true });
    const admin = new Redis(master.url);
    await admin.del(keys.meta(room), keys.log(room), keys.pending(room)); // lost, but for the skips key
    admin.disconnect();
    for (let i = 1; i <= 7; i++) await broker.publish(msg(room, `m${i}`)); // 1 and 2 trimmed
    const h = await broker.history(room, 0);
    expect(h.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(h).toMatchObject({ oldestSeq: 3, recovered: false });
  });

  it('one WAIT covers the publications of one turn (a measured figure, not asserted)', async () => {
    const broker = await brokerIn(ns, 100);
    const room = uniqueName('room');
    const n = 200;
    const plain = new RedisBroker(
      { ...ns.settings(), historySize: 100, roomTtlMs: 60000 },
      await ns.connection(),
    );
    ns.track(() => plain.close());
    let t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await plain.publish(msg(uniqueName('plain'), `p${i}`));
    const plainUs = Number(process.hrtime.bigint() - t) / 1000 / n;
    t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await broker.publish(msg(room, `s${i}`));
    const sequentialUs = Number(process.hrtime.bigint() - t) / 1000 / n;
    t = process.hrtime.bigint();
    const all = await Promise.all(Array.from({ length: n }, (_, i) => broker.publish(msg(room, `b${i}`))));
    const batchedUs = Number(process.hrtime.bigint() - t) / 1000 / n;
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => n + i + 1));
    console.log(
      `on loopback: ${plainUs.toFixed(0)} µs per publish one at a time without WAIT; ` +
        `REDIS_MIN_REPLICAS=1: ${sequentialUs.toFixed(0)} µs one at a time, ` +
        `${batchedUs.toFixed(0)} µs per publish when ${n} are under way together`,
    );
  });
});
