// A room's history generation (epoch) against a real gateway (`node dist/main.js`) on Redis: a Redis
// restarted empty under live members makes them hear `reset` and keep every new message (the typed
// client adopts the epoch, reports a gap and delivers each message once, in order); room keys do not
// expire under live members; a `join` creates no key for a room nobody published to; a second `join`
// of the same room keeps the user in presence.

import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { GatewayClient } from '../../src/client/gateway-client.js';
import {
  ClientRecorder,
  connectAs,
  deleteKeys,
  GatewayProcess,
  poll,
  PrivateRedis,
  SHARED_REDIS_URL,
  type TestClient,
  uniquePrefix,
  userToken,
} from '../harness/index.js';

jest.setTimeout(60_000);

const clients: TestClient[] = [];
const typed: GatewayClient[] = [];
const track = (c: TestClient) => (clients.push(c), c);

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(typed.splice(0).map((c) => c.close()));
});

/** Sends `content` until it is acked (Redis may still be coming back); returns the ack's seq. */
async function sendAcked(c: TestClient, room: string, content: string): Promise<number> {
  return (await c.sayUntilAcked(room, content, { deadlineMs: 15_000 })).seq as number;
}

async function ready(g: GatewayProcess): Promise<boolean> {
  return (await fetch(`${g.httpUrl}/readyz`).catch(() => null))?.status === 200;
}

describe('Redis restarted empty under live members', () => {
  const redis = new PrivateRedis(false);
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await redis.start();
    gateway = await GatewayProcess.start({
      env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500', RATE_LIMIT_PER_SEC: '1000' },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await redis.dispose();
  });

  it('sends `reset` before the new epoch, and the typed client delivers every message once, in order', async () => {
    const room = 'restart';
    const member = new GatewayClient({
      url: gateway.wsUrl,
      WebSocketImpl: WebSocket,
      token: userToken('mia'),
      reconnect: { minMs: 20, maxMs: 200 },
    });
    typed.push(member);
    const rec = new ClientRecorder(member);
    await member.connect();
    const first = await member.join(room);
    const raw = track(await connectAs(gateway.wsUrl, 'raw'));
    await raw.join(room);
    const writer = track(await connectAs(gateway.wsUrl, 'wes'));
    await writer.join(room);

    const before = Array.from({ length: 10 }, (_, i) => `old-${i + 1}`);
    for (const c of before) await sendAcked(writer, room, c);
    await rec.waitForContents(room, before);

    await redis.stop();
    await redis.start();
    await poll(() => ready(gateway), 10_000, 'the gateway ready again');

    const after = Array.from({ length: 6 }, (_, i) => `new-${i + 1}`);
    const seqs: number[] = [];
    for (const c of after) seqs.push(await sendAcked(writer, room, c));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]); // the room started over

    await rec.waitForContents(room, [...before, ...after]);
    await writer.roundTrip();
    expect(rec.contents(room)).toEqual([...before, ...after]);
    const [reset] = rec.of('reset');
    expect(reset).toMatchObject({ room, seq: 0, oldestSeq: 1 });
    expect(reset.epoch).not.toBe(first.epoch);
    expect(rec.of('gap')).toEqual([
      expect.objectContaining({ room, epochChanged: true, epoch: reset.epoch, since: 10, seq: 0 }),
    ]);
    expect(member.roomInfo(room)).toMatchObject({ epoch: reset.epoch, lastSeq: 6 });

    // On the wire: `reset` right before the first message of the new epoch, nothing else between.
    const frames = raw.frames.filter((f) => f.type === 'message' || f.type === 'reset');
    expect(frames.map((f) => (f.type === 'reset' ? 'reset' : f.seq))).toEqual([
      ...Array.from({ length: 10 }, (_, i) => i + 1),
      'reset',
      1,
      2,
      3,
      4,
      5,
      6,
    ]);
    expect(frames[10]).toEqual({ type: 'reset', room, epoch: reset.epoch, seq: 0, oldestSeq: 1 });
  });
});

describe('room keys in Redis', () => {
  const prefix = uniquePrefix();
  let gateway: GatewayProcess;
  let admin: Redis;

  beforeAll(async () => {
    admin = new Redis(SHARED_REDIS_URL, { protocol: 2 });
    gateway = await GatewayProcess.start({
      env: {
        REDIS_URL: SHARED_REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        REDIS_ROOM_TTL_SEC: '1',
        RATE_LIMIT_PER_SEC: '100000',
      },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await deleteKeys(SHARED_REDIS_URL, prefix);
    admin?.disconnect();
  });

  /** The keys of the rotated rooms (`rot-*`), whatever they are. */
  async function countKeys(): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}room:{rot-*`, 'COUNT', 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
    return n;
  }

  it('keeps a room with members from expiring (REDIS_ROOM_TTL_SEC): no new epoch under them', async () => {
    const room = 'quiet';
    const member = track(await connectAs(gateway.wsUrl, 'mia'));
    const joined = await member.join(room);
    const writer = track(await connectAs(gateway.wsUrl, 'wes'));
    await writer.join(room);
    for (let i = 1; i <= 3; i++) await writer.say(room, `m${i}`, `m${i}`);
    await member.waitFor('message', 3);

    // Time has to pass here: three TTLs without a publication, while the keys must stay.
    const meta = `${prefix}room:{${room}}:meta`;
    const start = Date.now();
    await poll(
      async () => {
        expect(await admin.exists(meta)).toBe(1);
        return Date.now() - start > 3000;
      },
      6000,
      'three room TTLs',
    );

    const ack = await writer.say(room, 'm4', 'm4');
    expect(ack.seq).toBe(4);
    const m4 = await member.next('message', 3000, (f) => f.content === 'm4');
    expect(m4.seq).toBe(4);
    expect(member.all('reset')).toEqual([]);
    const again = await member.join(room);
    expect(again.epoch).toBe(joined.epoch);
  });

  it('creates no key for rooms joined without a message (thousands of rooms rotated)', async () => {
    // The default REDIS_ROOM_TTL_SEC (a day): keys made by a join would outlive the test.
    const daily = await GatewayProcess.start({
      env: { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_PER_SEC: '100000' },
    });
    try {
      await rotate(daily);
    } finally {
      await daily.stop();
    }
  });

  async function rotate(gateway: GatewayProcess): Promise<void> {
    const c = track(await connectAs(gateway.wsUrl, 'rotator'));
    const rooms = 2000;
    const batch = 50;
    for (let i = 0; i < rooms; i += batch) {
      for (let j = i; j < i + batch; j++) c.send({ type: 'join', room: `rot-${j}` });
      await c.waitFor('joined', i + batch);
      for (let j = i; j < i + batch; j++) c.send({ type: 'leave', room: `rot-${j}` });
      await c.waitFor('left', i + batch);
    }
    expect(c.all('error')).toEqual([]);
    // Presence entries go right after `left` (asynchronously); room keys must never have been created.
    await poll(async () => (await countKeys()) === 0, 5000, 'no keys of the rotated rooms');

    // A publication does create the room's keys (the count above can see them).
    const writer = track(await connectAs(gateway.wsUrl, 'writer'));
    await writer.join('rot-0');
    await writer.say('rot-0', 'hello', 'h1');
    expect(await admin.exists(`${prefix}room:{rot-0}:meta`, `${prefix}room:{rot-0}:log`)).toBe(2);
  }

  it('a second join of a joined room keeps the user in presence; one `left` when it leaves', async () => {
    const room = 'twice';
    const bob = track(await connectAs(gateway.wsUrl, 'bob'));
    await bob.join(room);
    const ann = track(await connectAs(gateway.wsUrl, 'ann'));
    // Two joins back to back (the second arrives while the first is still under way), then one
    // after the first has completed.
    ann.send({ type: 'join', room });
    ann.send({ type: 'join', room });
    await ann.waitFor('joined', 2);
    await ann.join(room);
    expect(ann.all('error')).toEqual([]);

    const cid = track(await connectAs(gateway.wsUrl, 'cid'));
    const joined = await cid.join(room);
    expect((joined.members as { id: string }[]).map((m) => m.id).sort()).toEqual(['ann', 'bob', 'cid']);
    await bob.next('presence', 3000, (f) => f.user.id === 'ann' && f.status === 'joined');

    ann.send({ type: 'leave', room });
    await ann.next('left', 3000, (f) => f.room === room);
    await bob.next('presence', 3000, (f) => f.user.id === 'ann' && f.status === 'left');
    const late = track(await connectAs(gateway.wsUrl, 'dan'));
    const after = await late.join(room);
    expect((after.members as { id: string }[]).map((m) => m.id).sort()).toEqual(['bob', 'cid', 'dan']);
    await bob.next('presence', 3000, (f) => f.user.id === 'dan');
    const annEvents = bob.all('presence').filter((f) => f.user.id === 'ann');
    expect(annEvents.map((f) => f.status)).toEqual(['joined', 'left']);
    expect(ann.all('left').length).toBe(1);
  });
});
