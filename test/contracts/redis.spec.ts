import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Recorder } from './broker.contract.js';
import { BrokerUnavailableError } from '../../src/cluster/broker.js';
import { msg, uniqueName } from './contract-kit.js';
import { poll } from '../harness/wait.js';
import { RedisKeys } from '../../src/cluster/redis/keys.js';
import { RedisBroker } from '../../src/cluster/redis/redis-broker.js';
import { brokerIn, presenceIn, redisContracts, RedisNamespace, usersIn } from './redis-test-kit.js';
import { openRedis, quit, SharedConnection } from '../../src/cluster/redis/connection.js';
import { RedisPresenceTracker } from '../../src/cluster/redis/redis-presence-tracker.js';

Logger.overrideLogger(false);

redisContracts('redis', () => new RedisNamespace());

describe('RedisUsers across instances', () => {
  let ns: RedisNamespace;
  beforeEach(() => (ns = new RedisNamespace()));
  afterEach(() => ns.dispose());

  it('holds the per-user limit over every instance, atomically', async () => {
    const [x, y] = await Promise.all([usersIn(ns), usersIn(ns)]);
    const user = uniqueName('u');
    const tries = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? x : y).acquire(user, `c${i}`, 3)),
    );
    expect(tries.filter(Boolean)).toHaveLength(3);
    expect((await y.lookup(user)).connections).toBe(3);
  });

  it('forgets the leases of an instance that stopped refreshing them, keeps the live ones', async () => {
    const [dead, live] = await Promise.all([usersIn(ns, 300), usersIn(ns, 300)]);
    const user = uniqueName('u');
    expect(await dead.acquire(user, 'd1', 2)).toBe(true);
    expect(await live.acquire(user, 'l1', 2)).toBe(true);
    await live.update(user, 'l1', ['room']);
    expect(await live.acquire(user, 'l2', 2)).toBe(false);
    await dead.close(); // a crash: no more refreshes
    const deadline = Date.now() + 3000;
    let admitted = false;
    while (!admitted && Date.now() < deadline) {
      admitted = await live.acquire(user, 'l2', 2);
      if (!admitted) await new Promise((r) => setTimeout(r, 50));
    }
    expect(admitted).toBe(true);
    expect(await live.lookup(user)).toEqual({ connections: 2, rooms: ['room'] });
  });
});

describe('RedisBroker across instances', () => {
  let ns: RedisNamespace;
  beforeEach(() => {
    ns = new RedisNamespace();
  });
  afterEach(() => ns.dispose());

  it('every instance sees every publication once, in the same seq order', async () => {
    const [a, b, c] = [await brokerIn(ns, 100), await brokerIn(ns, 100), await brokerIn(ns, 100)];
    const recs = [new Recorder(), new Recorder(), new Recorder()];
    [a, b, c].forEach((x, i) => x.setHandler(recs[i]));
    const room = uniqueName('room');
    await Promise.all([a.subscribeRoom(room), b.subscribeRoom(room), c.subscribeRoom(room)]);
    await Promise.all(Array.from({ length: 60 }, (_, i) => [a, b, c][i % 3].publish(msg(room, `m${i}`))));
    const all = Array.from({ length: 60 }, (_, i) => i + 1);
    for (const r of recs) {
      await poll(() => r.seqs(room).length >= 60, 3000, '60 messages');
      expect(r.seqs(room)).toEqual(all);
    }
    expect(recs[0].messages).toEqual(recs[1].messages);
  });

  it('an instance not subscribed to a room receives nothing of it', async () => {
    const [a, b] = [await brokerIn(ns), await brokerIn(ns)];
    const rb = new Recorder();
    b.setHandler(rb);
    a.setHandler(new Recorder());
    const room = uniqueName('room');
    await b.subscribeRoom(uniqueName('elsewhere'));
    await a.publish(msg(room, 'x'));
    await a.publishUserEvent('nobody-here', { type: 'direct' });
    await new Promise((r) => setTimeout(r, 100));
    expect(rb.messages).toEqual([]);
    expect(rb.userEvents).toEqual([]);
  });

  it('resolves publish after its own message was handed to the local handler', async () => {
    const a = await brokerIn(ns);
    const rec = new Recorder();
    a.setHandler(rec);
    const room = uniqueName('room');
    await a.subscribeRoom(room);
    const m = await a.publish(msg(room, 'mine'));
    expect(rec.messages).toEqual([m]);
  });

  it('a publication retried with the same dedup key is published once and answers the original seq', async () => {
    const [a, b] = [await brokerIn(ns), await brokerIn(ns)];
    const rec = new Recorder();
    a.setHandler(rec);
    b.setHandler(new Recorder());
    const room = uniqueName('room');
    await a.subscribeRoom(room);
    const first = await a.publish(msg(room, 'x', 'id-1'), {
      idempotencyKey: 'u1/id-1',
      idempotentResultTtlMs: 10000,
    });
    const retry = await b.publish(msg(room, 'x', 'id-1'), {
      idempotencyKey: 'u1/id-1',
      idempotentResultTtlMs: 10000,
    });
    const other = await b.publish(msg(room, 'y', 'id-2'), {
      idempotencyKey: 'u1/id-2',
      idempotentResultTtlMs: 10000,
    });
    expect([first.seq, retry.seq, other.seq]).toEqual([1, 1, 2]);
    await poll(() => rec.messages.length >= 2);
    expect(rec.seqs(room)).toEqual([1, 2]);
    expect((await a.history(room, 0)).messages).toHaveLength(2);
  });

  it('fills from history what the subscriber missed while disconnected, in order, without duplicates', async () => {
    const [a, b] = [await brokerIn(ns, 100), await brokerIn(ns, 100)];
    const rec = new Recorder();
    a.setHandler(rec);
    b.setHandler(new Recorder());
    const room = uniqueName('room');
    await a.subscribeRoom(room);
    await a.history(room);
    for (let i = 1; i <= 3; i++) await b.publish(msg(room, `before${i}`));
    await poll(() => rec.messages.length === 3);
    for (const c of a.subscriber.connections()) c.disconnect(true); // dropped; it reconnects by itself
    await poll(() => !a.subscriber.isHealthy(), 1000, 'subscriber down');
    for (let i = 1; i <= 5; i++) await b.publish(msg(room, `during${i}`));
    await poll(() => a.isHealthy(), 5000, 'subscriber back');
    for (let i = 1; i <= 3; i++) await b.publish(msg(room, `after${i}`));
    await poll(() => rec.messages.length >= 11, 5000, '11 messages');
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.seqs(room)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });

  it('reports an epoch change when Redis lost the room, and delivers the new seqs', async () => {
    const [a, b] = [await brokerIn(ns), await brokerIn(ns)];
    const rec = new Recorder();
    a.setHandler(rec);
    b.setHandler(new Recorder());
    const room = uniqueName('room');
    await a.subscribeRoom(room);
    const before = await a.history(room);
    await b.publish(msg(room, 'one'));
    await b.publish(msg(room, 'two'));
    await poll(() => rec.messages.length === 2);
    const keys = new RedisKeys(ns.prefix);
    const admin = new Redis(ns.url, { protocol: 2 });
    await admin.del(keys.meta(room), keys.log(room));
    await quit(admin);
    const again = await b.publish(msg(room, 'fresh'));
    expect(again.seq).toBe(1);
    await poll(() => rec.messages.length === 3);
    // Two resets: b's first publication replaced the epoch a's history read proposed for the room
    // nobody had published to (seq 0), then Redis lost the room.
    expect(rec.resets).toEqual([room, room]);
    expect(rec.seqs(room)).toEqual([1, 2, 1]);
    const h = await a.history(room, 2, before.epoch);
    expect(h.epoch).not.toBe(before.epoch);
    expect(h).toMatchObject({ recovered: false, seq: 1 });
  });

  it("skipped seqs of a lost room's epoch do not cover a loss in the new one", async () => {
    const a = await brokerIn(ns);
    a.setHandler(new Recorder());
    const room = uniqueName('room');
    for (let i = 1; i <= 2; i++) await a.publish(msg(room, `e${i}`), { skipHistory: true });
    const keys = new RedisKeys(ns.prefix);
    const admin = new Redis(ns.url, { protocol: 2 });
    await admin.del(keys.meta(room), keys.log(room)); // lost, but for the skips key
    await quit(admin);
    for (let i = 1; i <= 7; i++) await a.publish(msg(room, `m${i}`)); // 1 and 2 trimmed
    const h = await a.history(room, 0);
    expect(h.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(h).toMatchObject({ oldestSeq: 3, recovered: false });
  });
});

describe('RedisBroker without Redis', () => {
  it('rejects at once with BrokerUnavailableError, is unhealthy, and never queues', async () => {
    const ns = new RedisNamespace('redis://127.0.0.1:1');
    const shared = new SharedConnection(openRedis(ns.settings(300), 'test-cmd', new Logger('test')));
    const broker = new RedisBroker({ ...ns.settings(300), historySize: 10, roomTtlMs: 0 }, shared);
    try {
      expect(broker.isHealthy()).toBe(false);
      const started = Date.now();
      await expect(broker.publish(msg('r', 'x'))).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(broker.history('r', 0)).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(broker.subscribeRoom('r')).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(broker.publishUserEvent('u', {})).rejects.toBeInstanceOf(BrokerUnavailableError);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await broker.close();
    }
  });
});

describe('RedisPresence across instances', () => {
  let ns: RedisNamespace;
  beforeEach(() => {
    ns = new RedisNamespace();
  });
  afterEach(() => ns.dispose());

  it('is per user across instances', async () => {
    const [a, b] = [await presenceIn(ns), await presenceIn(ns)];
    const room = uniqueName('room');
    expect(await a.add(room, { id: 'alice', name: 'Alice' }, 'a-1')).toBe(true);
    expect(await b.add(room, { id: 'alice', name: 'Alice' }, 'b-1')).toBe(false);
    expect(await b.count(room)).toBe(1);
    expect(await a.remove(room, 'alice', 'a-1')).toBe(false);
    expect(await b.remove(room, 'alice', 'b-1')).toBe(true);
    expect(await a.count(room)).toBe(0);
  });

  it("expires a crashed instance's entries within the TTL and announces who left", async () => {
    const ttl = 600;
    const [a, b] = [await presenceIn(ns, ttl), await presenceIn(ns, ttl)];
    const room = uniqueName('room');
    const watcher = await brokerIn(ns);
    const rec = new Recorder();
    watcher.setHandler(rec);
    await watcher.subscribeRoom(room);
    await a.add(room, { id: 'alice', name: 'Alice' }, 'a-1');
    await a.add(room, { id: 'carol', name: 'Carol' }, 'a-2');
    await b.add(room, { id: 'bob', name: 'Bob' }, 'b-1');
    await b.add(room, { id: 'carol', name: 'Carol' }, 'b-2');
    await a.close(); // crash: no remove, no more refreshes
    await new Promise((r) => setTimeout(r, ttl * 1.5));
    expect(await b.count(room)).toBe(2); // bob stays (refreshed), carol stays (b-2), alice is gone
    await poll(() => rec.events.length >= 1);
    expect(rec.events).toEqual([
      { type: 'presence', room, user: { id: 'alice', name: 'Alice' }, status: 'left' },
    ]);
    expect((await b.members(room, 10)).map((u) => u.id).sort()).toEqual(['bob', 'carol']);
  });

  it("restores this instance's entries after Redis lost them", async () => {
    const ttl = 600;
    const a = await presenceIn(ns, ttl);
    const room = uniqueName('room');
    await a.add(room, { id: 'alice', name: 'Alice' }, 'a-1');
    const keys = new RedisKeys(ns.prefix);
    const admin = new Redis(ns.url, { protocol: 2 });
    await admin.del(keys.presenceConns(room), keys.presenceUsers(room), keys.presenceNames(room));
    await quit(admin);
    expect(await a.count(room)).toBe(0);
    await a.refresh();
    expect(await a.members(room, 10)).toEqual([{ id: 'alice', name: 'Alice' }]);
    expect(await a.remove(room, 'alice', 'a-1')).toBe(true);
  });
});

describe('RedisPresenceTracker across instances', () => {
  let ns: RedisNamespace;
  beforeEach(() => (ns = new RedisNamespace()));
  afterEach(() => ns.dispose());

  const alice = { id: 'alice', name: 'Alice' };
  async function trackerIn(leaseMs: number, emitted: string[]): Promise<RedisPresenceTracker> {
    const shared = await ns.connection();
    const tracker = new RedisPresenceTracker(
      shared.redis,
      { prefix: ns.prefix, leaseMs, graceMs: 0, maxlen: 1000 },
      (type, data) => void emitted.push(`${type} ${'room' in data ? data.room : ''}`.trim()),
      { warn: (m) => emitted.push(`warn ${m}`) },
    );
    ns.track(async () => tracker.stop());
    return tracker;
  }

  it('a crashed connection leaves its rooms before its user goes offline, though it joined them later', async () => {
    // The connection joins a room well after it opened and crashes before a refresh re-wrote both
    // leases together: its user lease would expire first, a sweep or more before its room lease.
    const crashed: string[] = [];
    const a = await trackerIn(2400, crashed); // refreshes every 800 ms
    a.open(alice, 'c1');
    await poll(() => crashed.length >= 1, 3000, 'online');
    await new Promise((r) => setTimeout(r, 250));
    a.join('lobby', alice, 'c1');
    await poll(() => crashed.length >= 2, 3000, 'joined');
    a.stop(); // the crash: no departures, no more refreshes
    const survivor: string[] = [];
    await trackerIn(400, survivor); // sweeps every 100 ms
    await poll(() => survivor.includes('offline'), 5000, 'offline');
    await new Promise((r) => setTimeout(r, 400)); // a later sweep would announce a late `left`
    expect(crashed).toEqual(['online', 'joined lobby']);
    expect(survivor).toEqual(['left lobby', 'offline']);
  });
});
