// Room access at the edges, against the real gateway: an `auth` refresh that narrows the `rooms`
// claim takes the connection out of the rooms it no longer allows, and `?rooms=` on the handshake
// is bounded (MAX_ROOMS_PER_CONNECTION) and charged to the connection's token bucket.

import { HandshakeRefused, join, startApp, TestClient, type TestApp } from '../harness/index.js';

async function refusal(p: Promise<unknown>): Promise<HandshakeRefused> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HandshakeRefused) return err;
    throw err;
  }
  throw new Error('expected the handshake to be refused');
}

describe('an auth refresh that no longer allows a joined room', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1000' });
  });
  afterAll(() => t.close());

  it('leaves it with left {reason: "forbidden"}: no more deliveries, sending there is forbidden', async () => {
    const user = await TestClient.connect(t.wsUrl, { token: t.token('narrowed', { rooms: ['ra', 'rb'] }) });
    const other = await TestClient.connect(t.wsUrl, { token: t.token('talker') });
    await join(user, 'ra');
    await join(user, 'rb');
    await join(other, 'ra');
    await join(other, 'rb');

    user.send({ type: 'auth', token: t.token('narrowed', { rooms: ['rb'] }) });
    const authed = await user.next('authed');
    const answers = user.frames.filter((f) => f.type === 'left' || f.type === 'authed');
    expect(answers).toEqual([{ type: 'left', room: 'ra', reason: 'forbidden' }, authed]);

    // A message to the room it left does not reach it; the one after it in a room it kept does.
    await other.say('ra', 'after the refresh', 'o-1');
    await other.say('rb', 'marker', 'o-2');
    await user.next('message', 3000, (f) => f.content === 'marker');
    expect(user.all('message').map((m) => m.room)).toEqual(['rb']);

    user.send({ type: 'message', room: 'ra', content: 'still here?', id: 'u-1' });
    expect(await user.next('error', 3000, (f) => f.ref === 'u-1')).toMatchObject({ code: 'forbidden' });
    user.send({ type: 'join', room: 'ra', id: 'j-1' });
    expect(await user.next('error', 3000, (f) => f.ref === 'j-1')).toMatchObject({ code: 'forbidden' });
    // The room it kept works as before.
    await user.say('rb', 'kept', 'u-2');

    // Its own leave still answers reason "leave".
    user.send({ type: 'leave', room: 'rb' });
    expect(await user.next('left', 3000, (f) => f.room === 'rb')).toEqual({
      type: 'left',
      room: 'rb',
      reason: 'leave',
    });
    user.close();
    other.close();
  });

  it('keeps the rooms a wider token still allows', async () => {
    const user = await TestClient.connect(t.wsUrl, { token: t.token('widened', { rooms: ['w:*'] }) });
    await join(user, 'w:1');
    user.send({ type: 'auth', token: t.token('widened') });
    await user.next('authed');
    expect(user.all('left')).toEqual([]);
    await user.say('w:1', 'still in', 'w-1');
    user.close();
  });
});

describe('?rooms= on the handshake', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1', MAX_ROOMS_PER_CONNECTION: '5' });
  });
  afterAll(() => t.close());

  const rooms = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i + 1}`);

  it('names at most MAX_ROOMS_PER_CONNECTION rooms: more is refused 400 with a reason', async () => {
    const refused = await refusal(
      TestClient.connect(`${t.wsUrl}?rooms=${rooms(6, 'many').join(',')}`, { token: t.token('greedy') }),
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('bad_request');
    expect(refused.body.message).toContain('at most 5 (MAX_ROOMS_PER_CONNECTION)');
    // A name given twice counts once.
    const c = await TestClient.connect(`${t.wsUrl}?rooms=d1,d1,d1,d1,d1,d1`, { token: t.token('dups') });
    await c.next('joined', 3000, (f) => f.room === 'd1');
    c.send({ type: 'ping', id: 'p-0' });
    await c.next('error', 3000, (f) => f.ref === 'p-0'); // one join took the bucket's only token
    expect(c.all('joined')).toHaveLength(1);
    c.close();
  });

  it('charges each room to the token bucket like a join frame', async () => {
    // RATE_LIMIT_PER_SEC=1: the bucket holds one token, so one room is joined.
    const names = rooms(5, 'b');
    const c = await TestClient.connect(`${t.wsUrl}?rooms=${names.join(',')}`, { token: t.token('bucket') });
    const error = await c.next('error');
    expect(error.code).toBe('rate_limited');
    expect(error.message).toContain('4 rooms of ?rooms= not joined');
    expect(error.details).toEqual(
      names.slice(1).map((room) => ({ field: 'rooms', problem: `${room}: not joined (rate limit)` })),
    );
    await c.next('joined', 3000, (f) => f.room === 'b1');
    // The bucket is empty now: the next frame is refused too.
    c.send({ type: 'ping', id: 'p-1' });
    expect(await c.next('error', 3000, (f) => f.ref === 'p-1')).toMatchObject({ code: 'rate_limited' });
    expect(c.all('joined').map((f) => f.room)).toEqual(['b1']);
    c.close();
  });
});
