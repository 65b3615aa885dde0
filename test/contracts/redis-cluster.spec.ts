import { Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { Recorder } from './broker.contract.js';
import { msg, range, uniqueName } from './contract-kit.js';
import { brokerIn, presenceIn, redisContracts, RedisNamespace, usersIn } from './redis-test-kit.js';
import { poll } from '../harness/wait.js';
import { RedisClusterSet } from '../harness/redis-cluster.js';
import { RedisKeys } from '../../src/cluster/redis/keys.js';
import { keySlot } from '../../src/cluster/redis/slot.js';
import { RedisRevocations } from '../../src/cluster/redis/redis-revocations.js';
import { RedisDedup } from '../../src/cluster/redis/redis-dedup.js';
import { EventStreamWriter } from '../../src/cluster/redis/event-stream.js';
import { RedisPresenceTracker } from '../../src/cluster/redis/redis-presence-tracker.js';
import type { Principal } from '../../src/auth/principal.js';
import { BrokerUnavailableError } from '../../src/cluster/broker.js';
import { idempotencyKey } from '../../src/cluster/idempotency.js';
import { shardOf } from '../../src/cluster/redis/connection.js';

Logger.overrideLogger(false);

/**
 * The Redis seams against a Redis Cluster of the file's own (three masters, three replicas, ports
 * 7111-7116): the same contracts as on one Redis, and what only a cluster can get wrong: a script
 * or a pipeline whose keys span slots (CROSSSLOT), and sharded pub/sub.
 */
const set = new RedisClusterSet({ firstPort: 7111 });
beforeAll(() => set.start(), 60_000);
afterAll(() => set.dispose());

const namespace = () => RedisNamespace.onCluster(set.nodeList);

redisContracts('redis cluster', namespace);

/** A room on each of the three masters (the first of each, checked with the cluster's CLUSTER KEYSLOT). */
async function roomsOnEveryShard(ns: RedisNamespace): Promise<string[]> {
  const keys = new RedisKeys(ns.prefix, true);
  const ranges = await set.slotRanges();
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const room = `spread-${i}`;
    const slot = keySlot(keys.meta(room));
    const port = ranges.find((r) => slot >= r.from && slot <= r.to)!.port;
    if (!byMaster.has(port)) byMaster.set(port, room);
  }
  const rooms = [...byMaster.values()];
  for (const [port, room] of byMaster) expect(await set.masterOf(keys.meta(room))).toBe(port);
  return rooms;
}

describe('the Redis seams on a Redis Cluster', () => {
  let ns: RedisNamespace;
  beforeEach(() => (ns = namespace()));
  afterEach(() => ns.dispose());

  it('fans out over sharded pub/sub: a room channel is subscribed on its own shard only', async () => {
    const [a, b] = [await brokerIn(ns, 100), await brokerIn(ns, 100)];
    const [ra, rb] = [new Recorder(), new Recorder()];
    a.setHandler(ra);
    b.setHandler(rb);
    const rooms = await roomsOnEveryShard(ns);
    for (const room of rooms) await Promise.all([a.subscribeRoom(room), b.subscribeRoom(room)]);
    await Promise.all(rooms.map((room) => Promise.all([a.history(room), b.history(room)])));
    for (let i = 0; i < 10; i++)
      await Promise.all(rooms.map((room) => [a, b][i % 2].publish(msg(room, `m${i}`))));
    for (const r of [ra, rb]) {
      await poll(() => r.messages.length >= 30, 5000, '30 messages');
      for (const room of rooms) expect(r.seqs(room)).toEqual(range(1, 10));
    }
    const keys = new RedisKeys(ns.prefix, true);
    for (const room of rooms) {
      const owner = await set.masterOf(keys.roomChannel(room));
      for (const { port } of await set.masters()) {
        const [, n] = (await set.admin(port, (r) =>
          r.call('PUBSUB', 'SHARDNUMSUB', keys.roomChannel(room)),
        )) as [string, number];
        // Both instances on the owner, nobody anywhere else; and no classic subscriber at all.
        expect([port === owner, n]).toEqual([port === owner, port === owner ? 2 : 0]);
        const [, classic] = (await set.admin(port, (r) =>
          r.call('PUBSUB', 'NUMSUB', keys.roomChannel(room)),
        )) as [string, number];
        expect(classic).toBe(0);
      }
    }
  });

  it("fills from history what a shard's subscriber missed while its connection was down", async () => {
    const [a, b] = [await brokerIn(ns, 100), await brokerIn(ns, 100)];
    const rec = new Recorder();
    a.setHandler(rec);
    b.setHandler(new Recorder());
    const rooms = await roomsOnEveryShard(ns);
    for (const room of rooms) await a.subscribeRoom(room);
    for (const room of rooms) await a.history(room);
    for (const room of rooms) await b.publish(msg(room, 'before'));
    await poll(() => rec.messages.length === 3, 3000, '3 messages');
    // Drop the connection to the first room's master only: the other shards keep delivering.
    const owner = await set.masterOf(new RedisKeys(ns.prefix, true).roomChannel(rooms[0]));
    const conn = a.subscriber.connections().find((c) => c.options.port === owner)!;
    conn.disconnect(true); // it reconnects by itself
    await poll(() => !a.subscriber.isHealthy(), 1000, 'subscriber down');
    for (let i = 1; i <= 3; i++) for (const room of rooms) await b.publish(msg(room, `during${i}`));
    await poll(() => a.isHealthy(), 5000, 'subscriber back');
    for (const room of rooms) await b.publish(msg(room, 'after'));
    await poll(() => rec.messages.length >= 15, 5000, '15 messages');
    await new Promise((r) => setTimeout(r, 50));
    for (const room of rooms) expect(rec.seqs(room)).toEqual(range(1, 5));
  });

  it('follows a slot migrated to another master: publishes follow MOVED, the subscription moves, nothing is missed', async () => {
    const [a, b] = [await brokerIn(ns, 100), await brokerIn(ns, 100)];
    const rec = new Recorder();
    a.setHandler(rec);
    b.setHandler(new Recorder());
    const room = uniqueName('moving');
    const keys = new RedisKeys(ns.prefix, true);
    await a.subscribeRoom(room);
    await a.history(room);
    for (let i = 1; i <= 3; i++) await b.publish(msg(room, `before${i}`));
    await poll(() => rec.messages.length === 3, 3000, '3 messages');
    const slot = keySlot(keys.meta(room));
    const from = await set.masterOfSlot(slot);
    const to = (await set.masters()).find((m) => m.port !== from)!.port;
    await set.migrateSlot(slot, to);
    for (let i = 1; i <= 3; i++) await b.publish(msg(room, `after${i}`));
    await poll(() => rec.messages.length >= 6, 5000, '6 messages');
    expect(rec.seqs(room)).toEqual(range(1, 6));
    // The channel is now subscribed on the new owner and no longer on the old one.
    await poll(
      async () => {
        const [, n] = (await set.admin(to, (r) =>
          r.call('PUBSUB', 'SHARDNUMSUB', keys.roomChannel(room)),
        )) as [string, number];
        return n === 1;
      },
      3000,
      'the subscription on the new owner',
    );
    const [, old] = (await set.admin(from, (r) =>
      r.call('PUBSUB', 'SHARDNUMSUB', keys.roomChannel(room)),
    )) as [string, number];
    expect(old).toBe(0);
  });

  it('user and broadcast events reach the instances subscribed to them', async () => {
    const [a, b] = [await brokerIn(ns), await brokerIn(ns)];
    const [ra, rb] = [new Recorder(), new Recorder()];
    a.setHandler(ra);
    b.setHandler(rb);
    const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
    for (const u of users) await b.subscribeUser(u);
    for (const u of users) await a.publishUserEvent(u, { type: 'direct', to: u });
    await a.publishBroadcast({ type: 'notice' });
    await poll(() => rb.userEvents.length === users.length && rb.broadcasts.length === 1, 3000, 'b got them');
    expect(rb.userEvents.map((e) => e.userId)).toEqual(users);
    await poll(() => ra.broadcasts.length === 1, 3000, 'a got the broadcast');
    expect(ra.userEvents).toEqual([]);
  });

  it('unborn rooms answer one epoch on every instance, per slot generation, and keep it', async () => {
    const [a, b] = [await brokerIn(ns), await brokerIn(ns)];
    a.setHandler(new Recorder());
    for (const room of await roomsOnEveryShard(ns)) {
      await a.subscribeRoom(room);
      const [ha, hb] = [await a.history(room), await b.history(room)];
      expect(ha.epoch).toBe(hb.epoch);
      expect((await a.publish(msg(room, 'first'))).seq).toBe(1);
      expect((await b.history(room)).epoch).toBe(ha.epoch);
    }
  });

  it('refreshes presence and user leases over every shard (one pipeline per shard)', async () => {
    const ttl = 600;
    const presence = await presenceIn(ns, ttl);
    const users = await usersIn(ns, ttl);
    const rooms = await roomsOnEveryShard(ns);
    for (const room of rooms) await presence.add(room, { id: `u-${room}`, name: room }, `c-${room}`);
    for (const room of rooms) {
      expect(await users.acquire(`u-${room}`, `c-${room}`, 5)).toBe(true);
      await users.update(`u-${room}`, `c-${room}`, [room]);
    }
    // Several expiry periods: only the refreshes keep the entries.
    await new Promise((r) => setTimeout(r, ttl * 2.5));
    for (const room of rooms) {
      expect(await presence.members(room, 10)).toEqual([{ id: `u-${room}`, name: room }]);
      expect(await users.lookup(`u-${room}`)).toEqual({ connections: 1, rooms: [room] });
    }
  });

  it('takes message ids on every shard, each answered from its own record', async () => {
    const connection = await ns.connection();
    const dedup = new RedisDedup(ns.prefix, connection);
    ns.track(() => dedup.close());
    const redis = connection.redis as Cluster;
    const keys = new RedisKeys(ns.prefix, true);
    const users = range(1, 30).map((i) => `taker-${i}`);
    const key = (user: string) => idempotencyKey(user, 'message', 'id-1');
    const shards = new Set(users.map((u) => shardOf(redis, keys.record(key(u)))));
    expect(shards.size).toBe(3);
    // One id already taken for another room (an earlier take, its seq in that room's key), one
    // whose record holds its seq (as the single-Redis publish script writes it), the rest free.
    await redis.set(keys.record(key(users[0])), JSON.stringify({ room: 'other' }), 'PX', 10000);
    await redis.set(keys.idem('other', key(users[0])), '4', 'PX', 10000);
    await redis.set(keys.record(key(users[1])), JSON.stringify({ room: 'r', seq: 7 }), 'PX', 10000);
    const scriptCalls = async (): Promise<number> => {
      let calls = 0;
      for (const node of redis.nodes('master')) {
        const stats = await node.info('commandstats');
        for (const m of stats.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)) calls += Number(m[1]);
      }
      return calls;
    };
    const before = await scriptCalls();
    const taken = await Promise.all(users.map((u) => dedup.take(key(u), 'r', 10000)));
    // The 30 takes of one turn: one script call per shard, not a SET NX each.
    expect((await scriptCalls()) - before).toBe(3);
    expect(taken[0]).toEqual({ room: 'other', seq: 4 });
    expect(taken[1]).toEqual({ room: 'r', seq: 7 });
    expect(await redis.get(keys.idem('r', key(users[1])))).toBe('7');
    expect(taken.slice(2)).toEqual(users.slice(2).map(() => undefined));
    expect(await redis.get(keys.record(key(users[2])))).toBe(JSON.stringify({ room: 'r' }));
    // Taken now: a second take answers this room, without a seq (not published yet).
    expect(await dedup.take(key(users[2]), 'r', 10000)).toEqual({ room: 'r' });
  });

  it("takes a sender record in the publish script when it lives on the room's node, and fails a batch whose record moved before writing", async () => {
    const broker = await brokerIn(ns, 100);
    const connection = await ns.connection();
    const dedup = new RedisDedup(ns.prefix, connection);
    ns.track(() => dedup.close());
    const redis = connection.redis as Cluster;
    const keys = new RedisKeys(ns.prefix, true);
    const room = uniqueName('fold');
    const roomMaster = await set.masterOf(keys.meta(room));
    const key = (user: string, id: string) => idempotencyKey(user, 'message', id);
    const local: string[] = [];
    let remote = '';
    for (let i = 0; local.length < 2 || remote === ''; i++) {
      const user = `folder-${i}`;
      if ((await set.masterOf(keys.record(key(user, 'x')))) === roomMaster) local.push(user);
      else if (remote === '') remote = user;
    }
    expect(local.map((u) => broker.takesSenderRecord(room, key(u, 'x')))).toEqual([true, true]);
    expect(broker.takesSenderRecord(room, key(remote, 'x'))).toBe(false);
    const taking = (user: string, id: string) => ({
      idempotencyKey: key(user, id),
      idempotentResultTtlMs: 10000,
      takeSenderRecord: true,
    });

    // One batch: two ids of one sender (the second twice) and another sender's, all co-located.
    const seqs = await Promise.all([
      broker.publish(msg(room, 'a', 'id-1'), taking(local[0], 'id-1')),
      broker.publish(msg(room, 'b', 'id-2'), taking(local[0], 'id-2')),
      broker.publish(msg(room, 'b', 'id-2'), taking(local[0], 'id-2')),
      broker.publish(msg(room, 'c', 'id-1'), taking(local[1], 'id-1')),
    ]);
    expect(seqs.map((m) => m.seq)).toEqual([1, 2, 2, 3]);
    // The records hold room and seq; the room has no idempotency key of its own for them.
    expect(await redis.get(keys.record(key(local[0], 'id-2')))).toBe(JSON.stringify({ room, seq: 2 }));
    expect(await redis.get(keys.record(key(local[1], 'id-1')))).toBe(JSON.stringify({ room, seq: 3 }));
    expect(await redis.get(keys.idem(room, key(local[0], 'id-2')))).toBeNull();
    // A retry answers the original seq; the id used in another room is answered with this one.
    expect((await broker.publish(msg(room, 'a', 'id-1'), taking(local[0], 'id-1'))).seq).toBe(1);
    expect(await dedup.take(key(local[0], 'id-1'), uniqueName('elsewhere'), 10000)).toEqual({ room, seq: 1 });

    // A record whose slot is not on the room's node (a slot map that changed since it was read):
    // the whole batch fails `unavailable`, and nothing of it is written.
    const failed = await Promise.allSettled([
      broker.publish(msg(room, 'd', 'id-3'), taking(local[0], 'id-3')),
      broker.publish(msg(room, 'e', 'id-1'), taking(remote, 'id-1')),
    ]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((failed[1] as PromiseRejectedResult).reason).toBeInstanceOf(BrokerUnavailableError);
    expect(await redis.get(keys.record(key(local[0], 'id-3')))).toBeNull();
    expect(await redis.get(keys.record(key(remote, 'id-1')))).toBeNull();
    expect((await broker.publish(msg(room, 'd', 'id-3'), taking(local[0], 'id-3'))).seq).toBe(4);
    expect((await broker.history(room, 0)).messages.map((m) => m.content)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('checks revocations whose keys live in different slots', async () => {
    const store = new RedisRevocations(ns.prefix, 3600, await ns.connection());
    ns.track(() => store.close());
    const now = Math.floor(Date.now() / 1000);
    const principal = (id: string, jti: string): Principal => ({
      id,
      name: id,
      rooms: null,
      exp: now + 60,
      scopes: [],
      iat: now - 10,
      jti,
    });
    await store.revoke({ jti: 'token-1', until: now + 60 }, now);
    await store.revoke({ sub: 'mallory', until: now }, now);
    expect(await store.check(principal('alice', 'token-1'))).toBe(true);
    expect(await store.check(principal('alice', 'token-2'))).toBe(false);
    expect(await store.check(principal('mallory', 'token-3'))).toBe(true);
  });

  it('appends each acked message to the {events} stream, also when a retry is answered from its key', async () => {
    const a = await brokerIn(ns, 10, 1000);
    const room = uniqueName('room');
    const options = { idempotencyKey: 'u1/id-1', idempotentResultTtlMs: 10000 };
    const first = await a.publish(msg(room, 'x', 'id-1'), options);
    const retry = await a.publish(msg(room, 'x', 'id-1'), options);
    expect(retry.seq).toBe(first.seq);
    const keys = new RedisKeys(ns.prefix, true);
    expect(keys.eventStream()).toBe(`${ns.prefix}{events}`);
    const port = await set.masterOf(keys.eventStream());
    const entries = (await set.admin(port, (r) => r.xrange(keys.eventStream(), '-', '+'))).map(
      ([, fields]) => [fields[1], JSON.parse(fields[3])],
    );
    const epoch = (await a.history(room)).epoch;
    expect(entries).toEqual([
      ['message', expect.objectContaining({ room, id: 'id-1', seq: 1, epoch })],
      ['message', expect.objectContaining({ room, id: 'id-1', seq: 1, epoch })],
    ]);
  });

  it('decides presence events and appends them in the {events} slot', async () => {
    const shared = await ns.connection();
    const writer = new EventStreamWriter(shared.redis, ns.prefix, 1000, { warn: () => {}, log: () => {} });
    const emitted: string[] = [];
    const tracker = new RedisPresenceTracker(
      shared.redis,
      { prefix: ns.prefix, leaseMs: 30000, graceMs: 0, maxlen: 1000 },
      (type) => void emitted.push(type),
      { warn: (m) => emitted.push(`warn ${m}`) },
    );
    ns.track(async () => tracker.stop());
    tracker.open({ id: 'alice', name: 'Alice' }, 'c1');
    tracker.join('lobby', { id: 'alice', name: 'Alice' }, 'c1');
    await writer.append('connected', {
      connectionId: 'c1',
      user: { id: 'alice', name: 'Alice' },
      ip: '127.0.0.1',
      instance: 'i',
      time: Date.now(),
    });
    await poll(() => emitted.length >= 2, 3000, 'online and joined');
    expect(emitted).toEqual(['online', 'joined']);
    const keys = new RedisKeys(ns.prefix, true);
    const port = await set.masterOf(keys.eventStream());
    const types = (await set.admin(port, (r) => r.xrange(keys.eventStream(), '-', '+'))).map(([, f]) => f[1]);
    expect(types.sort()).toEqual(['connected', 'joined', 'online']);
  });
});
