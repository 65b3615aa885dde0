// History replay against the real gateway: `join` with `last` (the room's recent messages), the
// per-connection replay budget (REPLAY_BUDGET_MESSAGES per REPLAY_BUDGET_WINDOW_MS) and a replayed
// message encoded once however often it is replayed, with the memory broker and with Redis.

import { jest } from '@jest/globals';
import { GatewayClient } from '../../src/client/gateway-client.js';
import type { Connection } from '../../src/hub/connection.js';
import { Writer } from '../../src/hub/writer.js';
import {
  ClientRecorder,
  deleteKeys,
  freePort,
  instrumentedWebSocket,
  join,
  SHARED_REDIS_URL,
  startApp,
  TestClient,
  type Frame,
  type TestApp,
  uniquePrefix,
} from '../harness/index.js';

jest.setTimeout(30_000);

let roomCounter = 0;
const uniqueRoom = (tag: string) => `${tag}-${Date.now().toString(36)}-${roomCounter++}`;

/** Publishes `n` messages to `room` as `by` (acked one by one), contents `${tag}${i}`. */
async function publish(by: TestClient, room: string, n: number, tag = 'm'): Promise<void> {
  for (let i = 1; i <= n; i++) await by.say(room, `${tag}${i}`, `${room}-${tag}-${i}-${Math.random()}`);
}

/** Sends a join and resolves with its answer: `joined`, or the `error` that refused it (by ref). */
async function tryJoin(c: TestClient, room: string, extra: Record<string, unknown> = {}): Promise<Frame> {
  const id = `j-${Math.random().toString(36).slice(2)}`;
  const from = c.frames.length;
  c.send({ type: 'join', room, id, ...extra });
  return c.find(
    (f) => (f.type === 'joined' && f.room === room) || (f.type === 'error' && f.ref === id),
    `answer to join ${room}`,
    10_000,
    from,
  );
}

/** The `message` frames of `room` that arrived before the `joined` of that room at or after `from`. */
function replayed(c: TestClient, room: string, from = 0): number[] {
  const frames = c.frames.slice(from);
  const end = frames.findIndex((f) => f.type === 'joined' && f.room === room);
  return frames
    .slice(0, end < 0 ? frames.length : end)
    .filter((f) => f.type === 'message' && f.room === room)
    .map((f) => f.seq as number);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each([
  ['memory', { REDIS_URL: '' }],
  ['redis', { REDIS_URL: SHARED_REDIS_URL }],
])('history replay (%s)', (_mode, modeEnv) => {
  let t: TestApp;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix();
    t = await startApp({
      ...modeEnv,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_PER_SEC: '1000',
      HISTORY_SIZE: '20',
      REPLAY_BUDGET_MESSAGES: '10',
      REPLAY_BUDGET_WINDOW_MS: '600000',
    });
  });
  afterAll(async () => {
    await t.close();
    if (modeEnv.REDIS_URL) await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  const open: TestClient[] = [];
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  const connect = async (sub: string) => {
    const c = await TestClient.connect(t.wsUrl, { token: t.token(sub) });
    open.push(c);
    return c;
  };

  describe('join with last', () => {
    it('replays the last N messages held, in order, before joined', async () => {
      const room = uniqueRoom('last');
      const writer = await connect('last-writer');
      await join(writer, room);
      await publish(writer, room, 8);
      const reader = await connect('last-reader');
      const joined = await tryJoin(reader, room, { last: 3 });
      expect(joined).toMatchObject({ type: 'joined', room, seq: 8, recovered: true, oldestSeq: 1 });
      expect(replayed(reader, room)).toEqual([6, 7, 8]);
      expect(reader.all('message').map((m) => m.content)).toEqual(['m6', 'm7', 'm8']);
      // Live messages follow with no gap.
      await writer.say(room, 'live', 'live-1');
      expect((await reader.next('message', 3000, (f) => f.content === 'live')).seq).toBe(9);
      writer.close();
      reader.close();
    });

    it('replays what history holds when it holds fewer, and nothing for an empty room', async () => {
      const room = uniqueRoom('fewer');
      const writer = await connect('fewer-writer');
      await join(writer, room);
      await publish(writer, room, 2);
      const reader = await connect('fewer-reader');
      expect(await tryJoin(reader, room, { last: 9 })).toMatchObject({ type: 'joined', seq: 2 });
      expect(replayed(reader, room)).toEqual([1, 2]);
      const empty = uniqueRoom('empty');
      expect(await tryJoin(reader, empty, { last: 5 })).toMatchObject({ type: 'joined', seq: 0 });
      expect(reader.all('message').filter((m) => m.room === empty)).toEqual([]);
      writer.close();
      reader.close();
    });

    it('refuses last with since, and last out of 1..1000, as bad_envelope', async () => {
      const c = await connect('last-bad');
      for (const extra of [
        { since: 0, last: 2 },
        { last: 0 },
        { last: 1001 },
        { last: 1.5 },
        { last: '3' },
      ]) {
        const answer = await tryJoin(c, uniqueRoom('bad'), extra);
        expect(answer).toMatchObject({ type: 'error', code: 'bad_envelope' });
        expect([...new Set(answer.details.map((d: { field: string }) => d.field))]).toEqual(['last']);
      }
      expect(c.all('joined')).toEqual([]);
      c.close();
    });

    it('keeps no gap and no duplicate while the room is busy', async () => {
      const room = uniqueRoom('busy');
      const writer = await connect('busy-writer');
      await join(writer, room);
      await publish(writer, room, 5);
      // The writer keeps publishing (unacked, back to back) while the reader joins.
      const total = 60;
      for (let i = 6; i <= total; i++)
        writer.send({ type: 'message', room, content: `m${i}`, id: `busy-${i}` });
      const reader = await connect('busy-reader');
      await tryJoin(reader, room, { last: 4 });
      await reader.find((f) => f.type === 'message' && f.seq === total, `seq ${total}`);
      const seqs = reader.all('message').map((m) => m.seq as number);
      expect(seqs).toEqual(range(seqs[0], total));
      expect(seqs.length).toBeGreaterThanOrEqual(4);
      writer.close();
      reader.close();
    });
  });

  describe('the replay budget', () => {
    it('answers rate_limited when a replay is not covered: nothing replayed, not joined', async () => {
      const room = uniqueRoom('budget');
      const writer = await connect('budget-writer');
      await join(writer, room);
      await publish(writer, room, 8);

      const c = await connect('budget-reader');
      expect(await tryJoin(c, room, { since: 0 })).toMatchObject({ type: 'joined', seq: 8 });
      expect(replayed(c, room)).toEqual(range(1, 8));
      c.send({ type: 'leave', room });
      await c.next('left');

      // 2 of 10 left: a replay of 8 is refused, and so is one of 3 with `last`.
      const from = c.frames.length;
      const refused = await tryJoin(c, room, { since: 0 });
      expect(refused).toMatchObject({ type: 'error', code: 'rate_limited' });
      expect(refused.message).toContain('replay budget');
      expect(await tryJoin(c, room, { last: 3 })).toMatchObject({ type: 'error', code: 'rate_limited' });
      c.send({ type: 'message', room, content: 'not in', id: 'nj' });
      expect(await c.next('error', 3000, (f) => f.ref === 'nj')).toMatchObject({ code: 'not_joined' });
      expect(c.frames.slice(from).filter((f) => f.type === 'message' || f.type === 'joined')).toEqual([]);

      // What the budget still covers is replayed; a join without a replay costs nothing; once the
      // budget is spent, a join with since/last is refused without reading history.
      expect(await tryJoin(c, room, { last: 2 })).toMatchObject({ type: 'joined', seq: 8 });
      expect(
        c
          .all('message')
          .slice(-2)
          .map((m) => m.seq),
      ).toEqual([7, 8]);
      expect(await tryJoin(c, uniqueRoom('free'))).toMatchObject({ type: 'joined' });
      expect(await tryJoin(c, uniqueRoom('spent'), { since: 0 })).toMatchObject({
        type: 'error',
        code: 'rate_limited',
      });
      writer.close();
      c.close();
    });

    it('lets a member that is refused a rejoin stay a member, with every live message', async () => {
      const room = uniqueRoom('member');
      const writer = await connect('member-writer');
      await join(writer, room);
      await publish(writer, room, 7);
      const c = await connect('member-reader');
      expect(await tryJoin(c, room, { since: 0 })).toMatchObject({ type: 'joined', seq: 7 });
      // 3 of 10 left: a rejoin replaying 7 or more is refused after its history read, while messages
      // keep coming (held for the rejoin meanwhile).
      for (let i = 8; i <= 30; i++) writer.send({ type: 'message', room, content: `m${i}`, id: `mem-${i}` });
      expect(await tryJoin(c, room, { since: 0 })).toMatchObject({ type: 'error', code: 'rate_limited' });
      await c.find((f) => f.type === 'message' && f.seq === 30, 'seq 30');
      expect(c.all('message').map((m) => m.seq)).toEqual(range(1, 30));
      writer.close();
      c.close();
    });

    it('allows one replay larger than the whole budget when it is full', async () => {
      const room = uniqueRoom('large');
      const writer = await connect('large-writer');
      await join(writer, room);
      await publish(writer, room, 15);
      const c = await connect('large-reader');
      expect(await tryJoin(c, room, { since: 0 })).toMatchObject({ type: 'joined', seq: 15 });
      expect(replayed(c, room)).toEqual(range(1, 15));
      c.send({ type: 'leave', room });
      await c.next('left');
      // In debt now: even a replay of one message waits for the refill.
      expect(await tryJoin(c, room, { last: 1 })).toMatchObject({ type: 'error', code: 'rate_limited' });
      writer.close();
      c.close();
    });
  });

  it('encodes a replayed message once, however many joins replay it', async () => {
    const room = uniqueRoom('once');
    const writer = await connect('once-writer');
    await join(writer, room);
    await publish(writer, room, 4);
    const readers = await Promise.all(['once-a', 'once-b', 'once-c'].map(connect));
    // Record the frames enqueued during the joins, passing them on to the real enqueue.
    const real = Writer.prototype.enqueue;
    const recorded: Buffer[] = [];
    Writer.prototype.enqueue = function (this: Writer, conn: Connection, frame: Buffer): void {
      recorded.push(frame);
      real.call(this, conn, frame);
    };
    try {
      for (const r of readers) {
        await tryJoin(r, room, { since: 0 });
        expect(replayed(r, room)).toEqual([1, 2, 3, 4]);
      }
    } finally {
      Writer.prototype.enqueue = real;
    }
    const bySeq = new Map<number, Set<Buffer>>();
    for (const frame of recorded) {
      const text = frame.toString('utf8');
      const match = /"type":"message".*"seq":(\d+)/.exec(text);
      if (!match) continue;
      const seq = Number(match[1]);
      if (!bySeq.has(seq)) bySeq.set(seq, new Set());
      bySeq.get(seq)!.add(frame);
    }
    expect([...bySeq.keys()].sort()).toEqual([1, 2, 3, 4]);
    // Three replays of each message, one encoded frame (the same Buffer) for all of them.
    for (const frames of bySeq.values()) expect(frames.size).toBe(1);
    writer.close();
    for (const r of readers) r.close();
  });
});

describe('the typed client', () => {
  let t: TestApp;
  const clients: GatewayClient[] = [];
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1000', HISTORY_SIZE: '20' });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(() => t.close());

  it('joins with last on the first join only, and resumes with since after a reconnect', async () => {
    const room = uniqueRoom('typed');
    const writer = await TestClient.connect(t.wsUrl, { token: t.token('typed-writer') });
    await join(writer, room);
    await publish(writer, room, 5);

    const { Impl, control } = instrumentedWebSocket(await freePort());
    const client = new GatewayClient({
      url: t.wsUrl,
      token: t.token('typed-reader'),
      WebSocketImpl: Impl,
      reconnect: { minMs: 20, maxMs: 200 },
    });
    clients.push(client);
    const rec = new ClientRecorder(client);
    await client.connect();
    await expect(client.join(room, { last: 2, since: 1 })).rejects.toMatchObject({ code: 'invalid' });
    await expect(client.join(room, { last: 0 })).rejects.toMatchObject({ code: 'invalid' });
    expect(await client.join(room, { last: 2 })).toMatchObject({ room, seq: 5 });
    expect(rec.contents(room)).toEqual(['m4', 'm5']);

    // Messages sent while the client is away come back through the rejoin's `since`, not `last`.
    control.blocked = true;
    control.cutAll();
    await rec.waitForStatus('reconnecting');
    for (const content of ['m6', 'm7', 'm8']) await writer.say(room, content, `typed-${content}`);
    control.blocked = false;
    await rec.waitForContents(room, ['m4', 'm5', 'm6', 'm7', 'm8']);
    expect(rec.contents(room)).toEqual(['m4', 'm5', 'm6', 'm7', 'm8']);
    expect(control.sentOfType('join')).toEqual([
      { type: 'join', room, last: 2 },
      { type: 'join', room, since: 5, epoch: expect.any(String) },
    ]);
    writer.close();
  });
});
