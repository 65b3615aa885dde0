import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Recorder } from './broker.contract.js';
import { msg, range, sender, uniqueName } from './contract-kit.js';
import { RedisNamespace } from './redis-test-kit.js';
import { poll } from '../harness/wait.js';
import { PrivateRedis } from '../harness/redis.js';
import { BrokerUnavailableError, IdTakenElsewhere, type RoomReset } from '../../src/cluster/broker.js';
import { quit } from '../../src/cluster/redis/connection.js';
import { RedisKeys } from '../../src/cluster/redis/keys.js';
import { MAX_BATCH, type Publication, PublishBatcher } from '../../src/cluster/redis/publish-batcher.js';
import { RedisBroker } from '../../src/cluster/redis/redis-broker.js';
import { RedisDedup } from '../../src/cluster/redis/redis-dedup.js';
import type { RoomMessage } from '../../src/protocol/frames.js';

Logger.overrideLogger(false);

/**
 * Publish batching (publish-batcher.ts): the publications one instance makes to one room during one
 * event-loop turn run as one script and travel as one payload on the room's channel. A tap (a
 * subscriber connection of the test's own) sees the payloads as every instance receives them.
 */

/** The payloads published on a room's channel, decoded: the seqs each one carries. */
class ChannelTap {
  readonly payloads: string[] = [];
  private constructor(private readonly redis: Redis) {}

  static async open(url: string, channel: string): Promise<ChannelTap> {
    const redis = new Redis(url, { protocol: 2 });
    const tap = new ChannelTap(redis);
    redis.on('message', (_channel: string, payload: string) => tap.payloads.push(payload));
    await redis.subscribe(channel);
    return tap;
  }

  /** Each payload as its seqs: `m` one message, `b` a batch. */
  seqs(): number[][] {
    return this.payloads.map((p) => {
      const body = p.slice(p.indexOf('|') + 1);
      if (p.startsWith('m')) return [(JSON.parse(body) as RoomMessage).seq];
      if (p.startsWith('b')) return (JSON.parse(body) as RoomMessage[]).map((m) => m.seq);
      return [];
    });
  }

  /** Waits for the payload carrying `seq` (a later publication proves that nothing else came before). */
  async until(seq: number): Promise<void> {
    await poll(() => this.seqs().some((s) => s.includes(seq)), 3000, `payload with seq ${seq}`);
  }

  close(): Promise<void> {
    return quit(this.redis);
  }
}

async function brokerIn(
  ns: RedisNamespace,
  historySize = 100,
  commandTimeoutMs = 1000,
): Promise<RedisBroker> {
  const broker = new RedisBroker(
    { ...ns.settings(commandTimeoutMs), historySize, roomTtlMs: 60000 },
    await ns.connection(commandTimeoutMs),
  );
  ns.track(() => broker.close());
  await poll(() => broker.isHealthy(), 3000, 'broker connected');
  return broker;
}

describe('RedisBroker: publish batching', () => {
  let ns: RedisNamespace;
  let room: string;
  let tap: ChannelTap;
  beforeEach(async () => {
    ns = new RedisNamespace();
    room = uniqueName('room');
    tap = await ChannelTap.open(ns.url, new RedisKeys(ns.prefix).roomChannel(room));
  });
  afterEach(async () => {
    await tap.close();
    await ns.dispose();
  });

  it('publications of one turn to one room get consecutive seqs in call order and travel as one payload', async () => {
    const a = await brokerIn(ns);
    const b = await brokerIn(ns);
    const [recA, recB] = [new Recorder(), new Recorder()];
    a.setHandler(recA);
    b.setHandler(recB);
    await Promise.all([a.subscribeRoom(room), b.subscribeRoom(room)]);
    await Promise.all([a.history(room), b.history(room)]);
    const published = await Promise.all(range(1, 20).map((i) => a.publish(msg(room, `m${i}`))));
    expect(published.map((m) => m.seq)).toEqual(range(1, 20));
    expect(published.map((m) => m.content)).toEqual(range(1, 20).map((i) => `m${i}`));
    // Own delivery before the ack, for every message of the batch.
    expect(recA.messages).toEqual(published);
    const next = await a.publish(msg(room, 'next')); // a later turn: a payload of its own
    await tap.until(next.seq);
    expect(tap.seqs()).toEqual([range(1, 20), [21]]);
    expect(tap.payloads[0].startsWith('b')).toBe(true);
    expect(tap.payloads[1].startsWith('m')).toBe(true);
    // The other instance decodes the batch into the same messages, in order.
    await poll(() => recB.messages.length === 21, 3000, 'b received 21');
    expect(recB.messages).toEqual([...published, next]);
    expect((await b.history(room, 0)).messages).toEqual([...published, next]);
  });

  it(`splits a turn's publications into batches of ${MAX_BATCH}, in order`, async () => {
    const a = await brokerIn(ns, 5);
    const rec = new Recorder();
    a.setHandler(rec);
    await a.subscribeRoom(room);
    await a.history(room);
    const total = MAX_BATCH + 44;
    const published = await Promise.all(range(1, total).map((i) => a.publish(msg(room, `m${i}`))));
    expect(published.map((m) => m.seq)).toEqual(range(1, total));
    await tap.until(total);
    expect(tap.seqs()).toEqual([range(1, MAX_BATCH), range(MAX_BATCH + 1, total)]);
    expect(rec.seqs(room)).toEqual(range(1, total));
    // The history keeps its size whatever the batch's.
    expect((await a.history(room, 0)).messages.map((m) => m.seq)).toEqual(range(total - 4, total));
  });

  it('publications of several instances in one turn share one seq order, one payload per instance', async () => {
    const [a, b] = [await brokerIn(ns), await brokerIn(ns)];
    const [recA, recB] = [new Recorder(), new Recorder()];
    a.setHandler(recA);
    b.setHandler(recB);
    await Promise.all([a.subscribeRoom(room), b.subscribeRoom(room)]);
    await Promise.all([a.history(room), b.history(room)]);
    const published = await Promise.all(
      range(1, 40).map((i) => (i % 2 === 0 ? a : b).publish(msg(room, `m${i}`))),
    );
    expect(published.map((m) => m.seq).sort((x, y) => x - y)).toEqual(range(1, 40));
    await poll(() => recA.messages.length === 40 && recB.messages.length === 40, 3000, '40 each');
    expect(recA.seqs(room)).toEqual(range(1, 40));
    expect(recB.messages).toEqual(recA.messages);
    // One payload per instance's turn: two here, each with consecutive seqs.
    await tap.until(40);
    expect(tap.seqs()).toHaveLength(2);
  });
});

/**
 * What the subscriber's re-subscription does (holdLive): the room's live messages wait in the
 * returned buffer from here on, until `catchUp` reads history and delivers.
 */
function holdLive(broker: RedisBroker, room: string): { buffer: unknown[]; catchUp: () => Promise<void> } {
  const internals = broker as unknown as {
    rooms: Map<string, { buffer: unknown[] | null }>;
    catchUp(room: string, s: unknown): Promise<void>;
  };
  const stream = internals.rooms.get(room)!;
  const buffer: unknown[] = [];
  stream.buffer = buffer;
  return { buffer, catchUp: () => internals.catchUp(room, stream) };
}

describe('RedisBroker: catching up after a gap', () => {
  let ns: RedisNamespace;
  beforeEach(() => {
    ns = new RedisNamespace();
  });
  afterEach(() => ns.dispose());

  /**
   * Two instances with HISTORY_SIZE 3 in a fresh room: `a` (its handler `handler`) has received
   * seqs 1..2 published by `b`, and holds its live stream from now on (holdLive).
   */
  async function liveHeldAfterTwo(handler: Recorder, received: () => number) {
    const room = uniqueName('room');
    const [a, b] = [await brokerIn(ns, 3), await brokerIn(ns, 3)];
    a.setHandler(handler);
    b.setHandler(new Recorder());
    await Promise.all([a.subscribeRoom(room), b.subscribeRoom(room)]);
    await Promise.all([a.history(room), b.history(room)]);
    for (const i of range(1, 2)) await b.publish(msg(room, `m${i}`));
    await poll(() => received() === 2, 3000, 'a received 1..2');
    return { room, a, b, ...holdLive(a, room) };
  }

  it('delivers what it buffered meanwhile in order, also when history was trimmed past it', async () => {
    // A subscription that came back while the room is busy: the live stream is buffered from the
    // re-subscription on, and the history read after it answers a room that has moved on further
    // than HISTORY_SIZE. The buffer holds what history lost.
    const rec = new Recorder();
    const { room, a, b, buffer, catchUp } = await liveHeldAfterTwo(rec, () => rec.messages.length);
    for (const i of range(3, 10)) await b.publish(msg(room, `m${i}`));
    await poll(() => buffer.length === 8, 3000, 'a buffered 3..10');
    expect((await a.history(room, 0)).messages.map((m) => m.seq)).toEqual([8, 9, 10]);
    await catchUp();
    expect(rec.seqs(room)).toEqual(range(1, 10));
  });

  it('announces what neither history nor the buffer holds: reset in the same epoch, then what follows', async () => {
    const order: (number | string)[] = [];
    const resets: RoomReset[] = [];
    const handler = new (class extends Recorder {
      override onMessage(m: RoomMessage): void {
        order.push(m.seq);
      }
      override onRoomReset(_room: string, reset?: RoomReset): void {
        order.push('reset');
        resets.push(reset!);
      }
    })();
    const { room, a, b, buffer, catchUp } = await liveHeldAfterTwo(handler, () => order.length);
    for (const i of range(3, 6)) await b.publish(msg(room, `m${i}`));
    await poll(() => buffer.length === 4, 3000, 'a buffered 3..6');
    buffer.length = 0; // lost on the way (the subscription was down while they were published)
    for (const i of range(7, 9)) await b.publish(msg(room, `m${i}`));
    await poll(() => buffer.length === 3, 3000, 'a buffered 7..9');
    const { epoch } = await a.history(room, 0);
    await catchUp();
    expect(order).toEqual([1, 2, 'reset', 7, 8, 9]);
    expect(resets).toEqual([{ epoch, seq: 6, oldestSeq: 7 }]);
  });
});

describe('RedisBroker: the sender record in the publish script', () => {
  let ns: RedisNamespace;
  beforeEach(() => {
    ns = new RedisNamespace();
  });
  afterEach(() => ns.dispose());

  it('answers an id taken for another room with IdTakenElsewhere and that publication', async () => {
    const broker = await brokerIn(ns);
    expect(broker.takesSenderRecord('any room', 'message\u0000u1\u0000id-1')).toBe(true);
    const [a, b] = [uniqueName('room'), uniqueName('room')];
    const options = {
      idempotencyKey: 'message\u0000u1\u0000id-1',
      idempotentResultTtlMs: 10000,
      takeSenderRecord: true,
    };
    expect((await broker.publish(msg(a, 'x', 'id-1'), options)).seq).toBe(1);
    const taken = await broker.publish(msg(b, 'x', 'id-1'), options).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(IdTakenElsewhere);
    expect((taken as IdTakenElsewhere).prior).toEqual({ room: a, seq: 1 });
    expect((await broker.history(b, 0)).messages).toEqual([]);
  });

  it("honours this room's record written by IdempotencyStore.take: its seq from the room's key, or publishes", async () => {
    const broker = await brokerIn(ns);
    const room = uniqueName('room');
    const keys = new RedisKeys(ns.prefix);
    const taking = (id: string) => ({
      idempotencyKey: `message\u0000u1\u0000${id}`,
      idempotentResultTtlMs: 10000,
      takeSenderRecord: true,
    });
    const admin = new Redis(ns.url, { protocol: 2 });
    try {
      // As an instance that takes ids in a step of its own leaves them: the record names the room,
      // the room's key holds the seq.
      const { takeSenderRecord: _, ...byRoomKey } = taking('id-1');
      expect((await broker.publish(msg(room, 'x', 'id-1'), byRoomKey)).seq).toBe(1);
      await admin.set(keys.record(byRoomKey.idempotencyKey), JSON.stringify({ room }), 'PX', 10000);
      expect((await broker.publish(msg(room, 'x', 'id-1'), taking('id-1'))).seq).toBe(1);
      // Taken, its publication never made (no room key): published now, once.
      await admin.set(keys.record(taking('id-2').idempotencyKey), JSON.stringify({ room }), 'PX', 10000);
      expect((await broker.publish(msg(room, 'y', 'id-2'), taking('id-2'))).seq).toBe(2);
      expect((await broker.publish(msg(room, 'y', 'id-2'), taking('id-2'))).seq).toBe(2);
    } finally {
      await quit(admin);
    }
    expect((await broker.history(room, 0)).messages.map((m) => m.content)).toEqual(['x', 'y']);
  });
});

describe('PublishBatcher: idempotency keys inside a batch', () => {
  let ns: RedisNamespace;
  let room: string;
  let tap: ChannelTap;
  let keys: RedisKeys;
  let batcher: PublishBatcher;
  let epoch: string;

  /** A publication as RedisBroker builds it (head and tail of the message's JSON). */
  const publication = (
    content: string,
    idempotencyKey = '',
    store = true,
    takeRecord = false,
    to = room,
  ): Publication => ({
    head: JSON.stringify({ id: content, room: to }).slice(0, -1) + ',"seq":',
    tail: ',' + JSON.stringify({ time: 1, sender, content }).slice(1),
    idempotencyKey,
    idempotencyTtlMs: 10000,
    store,
    takeRecord,
  });
  const publish = (content: string, key?: string, store?: boolean) =>
    batcher.publish(room, publication(content, key, store));
  /** A client message as the broker sends it on a single Redis: it takes the sender's record. */
  const publishTaking = (to: string, content: string, key: string) =>
    batcher.publish(to, publication(content, key, true, true, to));

  beforeEach(async () => {
    ns = new RedisNamespace();
    room = uniqueName('room');
    keys = new RedisKeys(ns.prefix);
    tap = await ChannelTap.open(ns.url, keys.roomChannel(room));
    epoch = 'E1';
    const shared = await ns.connection();
    batcher = new PublishBatcher(
      shared.redis,
      keys,
      { historySize: 10, roomTtlMs: 60000, eventsMaxlen: 0 },
      { epochCandidate: () => epoch, settle: () => Promise.resolve() },
      shared.turn,
    );
  });
  afterEach(async () => {
    await tap.close();
    await ns.dispose();
  });

  async function history(): Promise<string[]> {
    const admin = new Redis(ns.url, { protocol: 2 });
    try {
      const raw = await admin.zrange(keys.log(room), '0', '-1');
      return raw.map((json) => (JSON.parse(json) as RoomMessage).content);
    } finally {
      await quit(admin);
    }
  }

  it('a key named twice in one batch gets one seq; a key answered before answers its original seq', async () => {
    const first = await Promise.all([
      publish('a', 'k1'),
      publish('b'),
      publish('a', 'k1'),
      publish('c', 'k2'),
    ]);
    expect(first).toEqual([
      { published: true, seq: 1, epoch: 'E1' },
      { published: true, seq: 2, epoch: 'E1' },
      { published: false, seq: 1, epoch: 'E1' },
      { published: true, seq: 3, epoch: 'E1' },
    ]);
    const second = await Promise.all([
      publish('d'),
      publish('c', 'k2'),
      publish('e', 'k3', false),
      publish('f'),
    ]);
    expect(second.map((r) => [r.published, r.seq])).toEqual([
      [true, 4],
      [false, 3],
      [true, 5],
      [true, 6],
    ]);
    const retries = await Promise.all([publish('a', 'k1'), publish('c', 'k2')]);
    expect(retries.map((r) => [r.published, r.seq])).toEqual([
      [false, 1],
      [false, 3],
    ]);
    const last = await publish('g');
    expect(last.seq).toBe(7);
    await tap.until(7);
    // A batch of retries only published nothing: no payload between 6 and 7.
    expect(tap.seqs()).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    // 'e' was not stored (skipHistory); every other message once.
    expect(await history()).toEqual(['a', 'b', 'c', 'd', 'f', 'g']);
  });

  it("takes the sender's record in the script: an id taken for another room publishes nothing there", async () => {
    const other = uniqueName('other');
    const key = 'message\u0000u1\u0000id-1';
    // Twice in one batch, then a retry: one seq, the record names this room.
    const first = await Promise.all([publishTaking(room, 'a', key), publishTaking(room, 'a', key)]);
    expect(first.map((r) => [r.published, r.seq, r.elsewhere])).toEqual([
      [true, 1, undefined],
      [false, 1, undefined],
    ]);
    expect((await publishTaking(room, 'a', key)).seq).toBe(1);
    const admin = new Redis(ns.url, { protocol: 2 });
    try {
      // One key: the record holds the room and the seq; the room has no idempotency key for it.
      expect(await admin.get(keys.record(key))).toBe(JSON.stringify({ room, seq: 1 }));
      expect(await admin.pttl(keys.record(key))).toBeGreaterThan(5000);
      expect(await admin.exists(keys.idem(room, key))).toBe(0);
      // The same id to another room: the record found is answered, nothing is published there.
      const elsewhere = await Promise.all([
        publishTaking(other, 'a', key),
        batcher.publish(other, publication('b', '', true, false, other)),
      ]);
      expect(elsewhere[0]).toEqual({
        published: false,
        seq: -1,
        epoch: 'E1',
        elsewhere: JSON.stringify({ room, seq: 1 }),
      });
      expect(elsewhere[1]).toMatchObject({ published: true, seq: 1 });
      expect(await admin.zrange(keys.log(other), '0', '-1')).toHaveLength(1);
      expect(await admin.get(keys.idem(other, key))).toBeNull();
      // A record written by IdempotencyStore.take (an instance that takes ids in a step of its own) is
      // the same record: the script honours it, and a take honours the script's.
      const key2 = 'message\u0000u1\u0000id-2';
      await admin.set(keys.record(key2), JSON.stringify({ room: other }), 'PX', 10000);
      expect((await publishTaking(room, 'c', key2)).elsewhere).toBe(JSON.stringify({ room: other }));
      const key3 = 'message\u0000u1\u0000id-3';
      await publishTaking(room, 'd', key3);
      const dedup = new RedisDedup(ns.prefix, await ns.connection());
      try {
        expect(await dedup.take(key3, other, 10000)).toEqual({ room, seq: 2 });
        expect(await admin.exists(keys.idem(room, key3))).toBe(0);
        // A take for the record's own room (REDIS_MIN_REPLICAS, whose publications check the room's
        // key) sets the room's key from the record: the retry it publishes answers the seq.
        expect(await dedup.take(key3, room, 10000)).toEqual({ room, seq: 2 });
        expect(await admin.get(keys.idem(room, key3))).toBe('2');
        expect(await publish('d', key3)).toEqual({ published: false, seq: 2, epoch: 'E1' });
      } finally {
        await dedup.close();
      }
    } finally {
      await quit(admin);
    }
    expect(await history()).toEqual(['a', 'd']);
  });

  it('a room whose keys were lost does not take the seq in a sender record for a prior', async () => {
    const key = 'message\u0000u1\u0000id-1';
    await publish('z');
    expect(await publishTaking(room, 'a', key)).toMatchObject({ published: true, seq: 2 });
    const admin = new Redis(ns.url, { protocol: 2 });
    try {
      await admin.del(keys.meta(room), keys.log(room)); // Redis lost the room, not the record
      epoch = 'E2';
      const again = await Promise.all([publishTaking(room, 'a', key), publishTaking(room, 'a', key)]);
      expect(again).toEqual([
        { published: true, seq: 1, epoch: 'E2' },
        { published: false, seq: 1, epoch: 'E2' },
      ]);
      expect(await admin.get(keys.record(key))).toBe(JSON.stringify({ room, seq: 1 }));
      expect(await publishTaking(room, 'a', key)).toEqual({ published: false, seq: 1, epoch: 'E2' });
    } finally {
      await quit(admin);
    }
    expect(await history()).toEqual(['a']);
  });

  it('a room whose keys were lost starts a new epoch, and its old keys are not taken for priors', async () => {
    await Promise.all([publish('a', 'k1'), publish('b', 'k2')]);
    const admin = new Redis(ns.url, { protocol: 2 });
    await admin.del(keys.meta(room), keys.log(room)); // Redis lost the room, not the keys
    await quit(admin);
    epoch = 'E2';
    const again = await Promise.all([publish('a', 'k1'), publish('x'), publish('a', 'k1')]);
    expect(again).toEqual([
      { published: true, seq: 1, epoch: 'E2' },
      { published: true, seq: 2, epoch: 'E2' },
      { published: false, seq: 1, epoch: 'E2' },
    ]);
    expect(await history()).toEqual(['a', 'x']);
  });

  it('records the seqs it skipped as runs, only when it skipped some; a lost room drops them', async () => {
    const admin = new Redis(ns.url, { protocol: 2 });
    try {
      const runs = () => admin.zrange(keys.skips(room), '0', '-1', 'WITHSCORES');
      await Promise.all([publish('r1'), publish('r2')]);
      expect(await admin.exists(keys.skips(room))).toBe(0); // nothing skipped: no key
      await Promise.all([
        publish('e3', '', false),
        publish('e4', '', false),
        publish('r5'),
        publish('e6', '', false),
      ]);
      expect(await runs()).toEqual(['3', '4', '6', '6']);
      await Promise.all([publish('e7', '', false), publish('e8', '', false)]); // extends the newest run
      expect(await runs()).toEqual(['3', '4', '6', '8']);
      expect(await admin.pttl(keys.skips(room))).toBeGreaterThan(0);
      await publish('r9');
      expect(await runs()).toEqual(['3', '4', '6', '8']);
      // Runs alternate with stored messages: the HISTORY_SIZE + 1 newest are kept.
      for (let i = 10; i <= 40; i++) await publish(`x${i}`, '', i % 2 === 0);
      expect(await runs()).toEqual(range(0, 10).flatMap((i) => [String(19 + 2 * i), String(19 + 2 * i)]));
      await admin.del(keys.meta(room), keys.log(room)); // Redis lost the room, not the key
      epoch = 'E2';
      expect(await publish('new')).toEqual({ published: true, seq: 1, epoch: 'E2' });
      expect(await admin.exists(keys.skips(room))).toBe(0);
    } finally {
      await quit(admin);
    }
  });
});

describe('RedisBroker: a batch that fails', () => {
  const redis = new PrivateRedis();
  let ns: RedisNamespace;
  beforeAll(() => redis.start());
  afterAll(() => redis.dispose());
  beforeEach(() => {
    ns = new RedisNamespace(redis.url);
  });
  afterEach(() => ns.dispose());

  it('answers every publisher in it unavailable, and retries with the same keys publish each once', async () => {
    const a = await brokerIn(ns, 100, 300);
    const rec = new Recorder();
    a.setHandler(rec);
    const room = uniqueName('room');
    await a.subscribeRoom(room);
    await a.history(room);
    const tap = await ChannelTap.open(ns.url, new RedisKeys(ns.prefix).roomChannel(room));
    try {
      const admin = new Redis(ns.url, { protocol: 2 });
      await admin.call('CLIENT', 'PAUSE', '800', 'WRITE'); // scripts wait: the batch times out
      const key = (i: number) => ({ idempotencyKey: `u1/id-${i}`, idempotentResultTtlMs: 10000 });
      const messages = range(1, 5).map((i) => msg(room, `m${i}`, `id-${i}`));
      const failed = await Promise.allSettled(messages.map((m, i) => a.publish(m, key(i + 1))));
      for (const f of failed) {
        expect(f.status).toBe('rejected');
        expect((f as PromiseRejectedResult).reason).toBeInstanceOf(BrokerUnavailableError);
      }
      // A write of the test's own waits for the pause to end.
      await admin.set(`${ns.prefix}after-pause`, '1');
      await quit(admin);
      await poll(() => a.isHealthy(), 5000, 'broker healthy again');
      // Whether Redis ran the timed-out batch after the pause or not, the retries answer one seq each.
      const retried = await Promise.all(messages.map((m, i) => a.publish(m, key(i + 1))));
      expect(retried.map((m) => m.seq)).toEqual(range(1, 5));
      const next = await a.publish(msg(room, 'next'));
      expect(next.seq).toBe(6);
      await tap.until(6);
      expect(tap.seqs()).toEqual([range(1, 5), [6]]);
      expect(rec.seqs(room)).toEqual(range(1, 6));
    } finally {
      await tap.close();
    }
  });
});
