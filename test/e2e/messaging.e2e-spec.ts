import { execFile } from 'node:child_process';
import type { Socket } from 'node:net';
import { join as joinPath } from 'node:path';
import { promisify } from 'node:util';
import { hubEvent, join, PROJECT_ROOT, startApp, TestClient, type TestApp } from '../harness/index.js';

const execFileAsync = promisify(execFile);

describe('rooms and messages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1000', HISTORY_SIZE: '5' });
  });
  afterAll(() => t.close());

  const connect = (sub: string, claims: Record<string, unknown> = {}) =>
    TestClient.connect(t.wsUrl, { token: t.token(sub, claims) });

  it('delivers a message to every member, sender included, with ack {id, seq}', async () => {
    const a = await connect('ann', { name: 'Ann' });
    const b = await connect('bob');
    await join(a, 'm1');
    await join(b, 'm1');
    a.send({ type: 'message', room: 'm1', content: 'hello', id: 'c-1', sender: { id: 'forged', name: 'x' } });
    const ack = await a.next('ack');
    expect(ack).toEqual({ type: 'ack', id: 'c-1', room: 'm1', seq: 1 });
    for (const c of [a, b]) {
      const m = await c.next('message');
      expect(m).toMatchObject({
        id: 'c-1',
        room: 'm1',
        seq: 1,
        sender: { id: 'ann', name: 'Ann' },
        content: 'hello',
      });
      expect(Math.abs(m.time - Date.now())).toBeLessThan(5000);
    }
    a.send({ type: 'message', room: 'm1', content: 'no id' });
    const m2 = await b.next('message');
    expect(m2.seq).toBe(2);
    expect(typeof m2.id).toBe('string');
    expect((await a.next('ack')).id).toBe(m2.id);
    a.close();
    b.close();
  });

  it('keeps seq contiguous and in order under concurrent publishers', async () => {
    const clients = await Promise.all(['p1', 'p2', 'p3'].map((s) => connect(s)));
    const watcher = await connect('w');
    for (const c of [...clients, watcher]) await join(c, 'busy');
    for (let i = 0; i < 30; i++) clients[i % 3].send({ type: 'message', room: 'busy', content: `n${i}` });
    const got = await watcher.waitFor('message', 30);
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const c of [...clients, watcher]) c.close();
  });

  it('dedups a retried id for the same user, not for another user', async () => {
    const a = await connect('dd');
    const b = await connect('ee');
    await join(a, 'dedup');
    await join(b, 'dedup');
    a.send({ type: 'message', room: 'dedup', content: 'once', id: 'same' });
    a.send({ type: 'message', room: 'dedup', content: 'once', id: 'same' });
    const acks = await a.waitFor('ack', 2);
    expect(acks.map((x) => x.seq)).toEqual([1, 1]);
    await b.next('message');
    b.send({ type: 'message', room: 'dedup', content: 'mine', id: 'same' });
    expect((await b.next('ack')).seq).toBe(2);
    // a later retry after reconnecting is still a duplicate
    a.close();
    const a2 = await connect('dd');
    await join(a2, 'dedup');
    a2.send({ type: 'message', room: 'dedup', content: 'once', id: 'same' });
    expect((await a2.next('ack')).seq).toBe(1);
    await b.waitFor('message', 2);
    // a2's ack came after the server chose not to fan the retry out: b's pong follows any copy of it
    await b.roundTrip();
    expect(b.all('message').map((m) => m.seq)).toEqual([1, 2]);
    a2.close();
    b.close();
  });

  it('replays after since, in order, before joined; nothing without since', async () => {
    const pub = await connect('pub');
    await join(pub, 'hist');
    for (let i = 1; i <= 4; i++) pub.send({ type: 'message', room: 'hist', content: `h${i}` });
    await pub.waitFor('ack', 4);
    const late = await connect('late');
    const joined = await join(late, 'hist', { since: 2 });
    expect(joined).toMatchObject({ room: 'hist', seq: 4, recovered: true, oldestSeq: 1 });
    const replay = late.frames.filter((f) => f.type === 'message');
    expect(replay.map((m) => m.seq)).toEqual([3, 4]);
    const joinedIndex = late.frames.indexOf(joined);
    expect(late.frames.findIndex((f) => f.type === 'message' && f.seq === 4)).toBeLessThan(joinedIndex);

    const fresh = await connect('fresh');
    const j2 = await join(fresh, 'hist');
    expect(j2).toMatchObject({ seq: 4, recovered: true });
    expect(fresh.all('message')).toHaveLength(0);
    pub.send({ type: 'message', room: 'hist', content: 'live' });
    expect((await fresh.next('message')).seq).toBe(5);
    for (const c of [pub, late, fresh]) c.close();
  });

  it('says recovered:false with oldestSeq when history no longer covers the gap', async () => {
    const pub = await connect('pub2');
    await join(pub, 'gap');
    for (let i = 1; i <= 8; i++) pub.send({ type: 'message', room: 'gap', content: `g${i}` });
    await pub.waitFor('ack', 8);
    const c = await connect('gapper');
    const joined = await join(c, 'gap', { since: 1 });
    expect(joined).toMatchObject({ seq: 8, recovered: false, oldestSeq: 4 });
    expect(c.all('message').map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    // another epoch: the client's seqs belong to a lost history
    const d = await connect('gapper2');
    const j2 = await join(d, 'gap', { since: 8, epoch: 'not-this-one' });
    expect(j2.recovered).toBe(false);
    expect(d.all('message').map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    pub.close();
    c.close();
    d.close();
  });

  it('replays with no gap and no duplicate while the room is busy', async () => {
    const pub = await connect('busy-pub');
    await join(pub, 'race');
    let sent = 0;
    const burst = () => {
      for (let i = 0; i < 5; i++) pub.send({ type: 'message', room: 'race', content: `r${sent++}` });
    };
    burst();
    await pub.waitFor('ack', 5);
    const joiner = await connect('busy-joiner');
    joiner.send({ type: 'join', room: 'race', since: 2 });
    burst(); // published while the join is being served
    await pub.waitFor('ack', 10);
    await joiner.next('joined');
    const seqs = (await joiner.waitFor('message', 8)).map((m) => m.seq);
    expect(seqs).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    pub.close();
    joiner.close();
  });

  it('leave answers left, then messages stop; not_joined for a room not joined', async () => {
    const a = await connect('leaver');
    const b = await connect('stayer');
    await join(a, 'lv');
    await join(b, 'lv');
    a.send({ type: 'leave', room: 'lv' });
    expect(await a.next('left')).toEqual({ type: 'left', room: 'lv', reason: 'leave' });
    b.send({ type: 'message', room: 'lv', content: 'after' });
    await b.next('message');
    // the fan-out to a would have been queued before a's pong
    await a.roundTrip();
    expect(a.all('message')).toHaveLength(0);
    a.send({ type: 'message', room: 'lv', content: 'x', id: 'nj' });
    expect(await a.next('error')).toMatchObject({ code: 'not_joined', ref: 'nj' });
    a.send({ type: 'leave', room: 'lv' });
    expect((await a.next('error')).code).toBe('not_joined');
    a.close();
    b.close();
  });

  it('announces presence to other members per user, with a members snapshot', async () => {
    const a = await connect('pa', { name: 'PA' });
    await join(a, 'pres');
    const b1 = await connect('pb', { name: 'PB' });
    const joinedB = await join(b1, 'pres');
    expect(joinedB.members).toEqual(
      expect.arrayContaining([
        { id: 'pa', name: 'PA' },
        { id: 'pb', name: 'PB' },
      ]),
    );
    expect(await a.next('presence')).toEqual({
      type: 'presence',
      room: 'pres',
      user: { id: 'pb', name: 'PB' },
      status: 'joined',
    });
    expect(b1.all('presence')).toHaveLength(0);
    // a second tab of the same user is not a new member
    const b2 = await connect('pb', { name: 'PB' });
    await join(b2, 'pres');
    const presenceBefore = a.all('presence').length;
    const b1Gone = hubEvent(t.hub, 'disconnected', (e) => e.connectionId === b1.frames[0].session);
    b1.close();
    await b1Gone;
    // any presence for b1's departure would have been queued for a before its pong
    await a.roundTrip();
    expect(a.all('presence')).toHaveLength(presenceBefore);
    b2.close();
    expect(await a.next('presence')).toMatchObject({ user: { id: 'pb' }, status: 'left' });
    a.close();
  });

  it('stops announcing presence and omits the members snapshot past PRESENCE_MAX_MEMBERS', async () => {
    const big = await startApp({ PRESENCE_MAX_MEMBERS: '2' });
    try {
      const c1 = await TestClient.connect(big.wsUrl, { token: big.token('u1') });
      expect((await join(c1, 'big')).members).toEqual([{ id: 'u1', name: 'u1' }]);
      const c2 = await TestClient.connect(big.wsUrl, { token: big.token('u2') });
      expect((await join(c2, 'big')).members).toHaveLength(2);
      expect((await c1.next('presence')).user.id).toBe('u2');
      const c3 = await TestClient.connect(big.wsUrl, { token: big.token('u3') });
      const j3 = await join(c3, 'big');
      expect(j3.members).toBeUndefined(); // 3 members > 2
      c3.close();
      await c3.closed();
      // neither the third join nor its leave was announced
      c2.send({ type: 'ping' });
      await c2.next('pong');
      expect(c1.all('presence')).toHaveLength(1);
      expect(c2.all('presence')).toHaveLength(0);
      c1.close();
      c2.close();
    } finally {
      await big.close();
    }
  });

  it('forbids rooms outside the token rooms claim, allows prefix patterns', async () => {
    const c = await connect('scoped', { rooms: ['team:*', 'lobby'] });
    await join(c, 'team:red');
    await join(c, 'lobby');
    c.send({ type: 'join', room: 'other', id: 'j1' });
    expect(await c.next('error')).toMatchObject({ code: 'forbidden', ref: 'j1' });
    c.close();
  });

  it('direct reaches every connection of the target and of the sender', async () => {
    const s1 = await connect('ds');
    const s2 = await connect('ds');
    const r1 = await connect('dr');
    const r2 = await connect('dr');
    const other = await connect('dx');
    s1.send({ type: 'direct', to: 'dr', content: 'psst', id: 'd-1' });
    expect(await s1.next('ack')).toEqual({ type: 'ack', id: 'd-1' });
    for (const c of [s1, s2, r1, r2]) {
      expect(await c.next('direct')).toMatchObject({
        id: 'd-1',
        to: 'dr',
        content: 'psst',
        sender: { id: 'ds' },
      });
    }
    s1.send({ type: 'direct', to: 'dr', content: 'psst', id: 'd-1' });
    await s1.waitFor('ack', 2);
    await r1.roundTrip();
    expect(r1.all('direct')).toHaveLength(1);
    expect(other.all('direct')).toHaveLength(0);
    for (const c of [s1, s2, r1, r2, other]) c.close();
  });

  it('a service disconnectUser closes every connection of that user 4000 with the reason', async () => {
    const a1 = await connect('kick');
    const a2 = await connect('kick');
    const other = await connect('stay');
    expect(t.hub.disconnectUser('kick', 'account suspended')).toBe(2);
    for (const c of [a1, a2]) expect(await c.closed()).toEqual({ code: 4000, reason: 'account suspended' });
    other.send({ type: 'ping' });
    await other.next('pong');
    other.close();
  });

  it('answers ping with pong', async () => {
    const c = await connect('pinger');
    c.send({ type: 'ping', id: 'p1' });
    const pong = await c.next('pong');
    expect(pong.id).toBe('p1');
    expect(typeof pong.time).toBe('number');
    c.close();
  });
});

describe('errors keep the connection usable', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1000', MAX_CONTENT_LENGTH: '10', ERROR_LIMIT: '1000' });
  });
  afterAll(() => t.close());

  it.each([
    ['bad JSON', '{"type":', 'bad_json', undefined],
    ['not an object', '[1,2]', 'bad_envelope', ['type']],
    ['no type', '{"room":"x"}', 'bad_envelope', ['type']],
    ['unknown type', '{"type":"teleport","id":"u1"}', 'unknown_type', undefined],
    ['missing content', '{"type":"message","room":"r","id":"e1"}', 'bad_envelope', ['content']],
    [
      'bad room and id',
      '{"type":"message","room":"no spaces!","content":"x","id":""}',
      'bad_envelope',
      ['room', 'id'],
    ],
    ['since not an integer', '{"type":"join","room":"r","since":"5"}', 'bad_envelope', ['since']],
    [
      'content over the limit',
      '{"type":"message","room":"r","content":"12345678901","id":"e2"}',
      'too_long',
      undefined,
    ],
  ])('%s -> %s', async (_name, raw, code, fields) => {
    const c = await TestClient.connect(t.wsUrl, { token: t.token('err') });
    await join(c, 'r');
    c.send(raw);
    const err = await c.next('error');
    expect(err.code).toBe(code);
    expect(typeof err.message).toBe('string');
    const parsed = (() => {
      try {
        return JSON.parse(raw);
      } catch {
        return {};
      }
    })();
    if (typeof parsed.id === 'string' && parsed.id) expect(err.ref).toBe(parsed.id);
    if (fields)
      expect([...new Set(err.details.map((d: { field: string }) => d.field))].sort()).toEqual(
        [...fields].sort(),
      );
    c.send({ type: 'message', room: 'r', content: 'still ok', id: 'after' });
    expect((await c.next('ack')).id).toBe('after');
    c.close();
  });

  it('counts content length in UTF-16 code units', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: t.token('emoji') });
    await join(c, 'r');
    c.send({ type: 'message', room: 'r', content: '😀😀😀😀😀', id: 'ok' }); // 10 code units
    expect((await c.next('ack')).id).toBe('ok');
    c.send({ type: 'message', room: 'r', content: '😀😀😀😀😀x', id: 'long' });
    expect(await c.next('error')).toMatchObject({ code: 'too_long', ref: 'long' });
    c.close();
  });

  it('binary frames get unsupported', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: t.token('bin') });
    c.ws.send(Buffer.from([1, 2, 3]));
    expect((await c.next('error')).code).toBe('unsupported');
    c.send({ type: 'ping' });
    await c.next('pong');
    c.close();
  });

  it('a fault inside a handler is error internal, logged, and the connection stays', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: t.token('boom') });
    await join(c, 'r');
    const original = t.hub.publishFromClient.bind(t.hub);
    t.hub.publishFromClient = () => Promise.reject(new Error('simulated fault'));
    try {
      c.send({ type: 'message', room: 'r', content: 'x', id: 'f1' });
      expect(await c.next('error')).toMatchObject({ code: 'internal', ref: 'f1' });
    } finally {
      t.hub.publishFromClient = original;
    }
    c.send({ type: 'message', room: 'r', content: 'x', id: 'f2' });
    expect((await c.next('ack')).id).toBe('f2');
    c.close();
  });
});

describe('limits and closes', () => {
  it('rate limits frames past the bucket and does not process them', async () => {
    const t = await startApp({ RATE_LIMIT_PER_SEC: '5' });
    try {
      const c = await TestClient.connect(t.wsUrl, { token: t.token('fast') });
      for (let i = 0; i < 8; i++) c.send({ type: 'ping', id: `p${i}` });
      const errors = await c.waitFor('error', 3);
      expect(errors.every((e) => e.code === 'rate_limited')).toBe(true);
      expect(errors.map((e) => e.ref)).toEqual(['p5', 'p6', 'p7']);
      const pongs = await c.waitFor('pong', 5);
      expect(pongs.map((p) => p.id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
      c.close();
    } finally {
      await t.close();
    }
  });

  it('closes 1008 "too many errors" after ERROR_LIMIT errors in the window', async () => {
    const t = await startApp({ RATE_LIMIT_PER_SEC: '1000', ERROR_LIMIT: '5' });
    try {
      const c = await TestClient.connect(t.wsUrl, { token: t.token('noisy') });
      for (let i = 0; i < 5; i++) c.send('nope');
      expect(await c.closed()).toEqual({ code: 1008, reason: 'too many errors' });
      expect(c.all('error')).toHaveLength(5);
    } finally {
      await t.close();
    }
  });

  it("counts a join over the replay budget toward ERROR_LIMIT: it is the client's doing", async () => {
    // Unlike a slow publish hook's rate_limited (test/hooks), which the client cannot see coming.
    const t = await startApp({ ERROR_LIMIT: '3', REPLAY_BUDGET_MESSAGES: '1', HISTORY_SIZE: '20' });
    try {
      const w = await TestClient.connect(t.wsUrl, { token: t.token('writer') });
      await join(w, 'replayed');
      for (let i = 0; i < 3; i++) await w.say('replayed', `m${i}`, `m${i}`);
      const c = await TestClient.connect(t.wsUrl, { token: t.token('rejoiner') });
      // The full budget allows one replay larger than itself; then every replay is refused.
      expect(await join(c, 'replayed', { since: 0 })).toMatchObject({ type: 'joined', seq: 3 });
      c.send({ type: 'leave', room: 'replayed' });
      await c.next('left');
      for (let i = 0; i < 3; i++) c.send({ type: 'join', room: 'replayed', since: 0 });
      expect(await c.closed()).toEqual({ code: 1008, reason: 'too many errors' });
      expect(c.all('error').map((f) => f.code)).toEqual(['rate_limited', 'rate_limited', 'rate_limited']);
      w.close();
    } finally {
      await t.close();
    }
  });

  it('closes 1009 for a frame over MAX_MESSAGE_BYTES', async () => {
    const t = await startApp({ MAX_MESSAGE_BYTES: '1024' });
    try {
      const c = await TestClient.connect(t.wsUrl, { token: t.token('big') });
      c.send({ type: 'message', room: 'r', content: 'x'.repeat(2000) });
      expect((await c.closed()).code).toBe(1009);
    } finally {
      await t.close();
    }
  });

  it('applies the size limit to the inflated message with permessage-deflate', async () => {
    const t = await startApp({
      MAX_MESSAGE_BYTES: '1024',
      PER_MESSAGE_DEFLATE: 'true',
      RATE_LIMIT_PER_SEC: '100',
    });
    try {
      // The client runs in its own process: inside Jest's module sandbox ws's zlib streams stall.
      const probe = joinPath(PROJECT_ROOT, 'test', 'harness', 'deflate-probe.mjs');
      const { stdout } = await execFileAsync(process.execPath, [probe, t.wsUrl, t.token('zip')], {
        timeout: 10000,
      });
      expect(JSON.parse(stdout)).toEqual({ extensions: 'permessage-deflate', echoed: true, closeCode: 1009 });
    } finally {
      await t.close();
    }
  });

  // Loopback kernel buffers absorb several MB, so the flood must be larger than that for a stopped
  // reader to back up into the server's queue. The fast member paces itself (a batch, then waits for
  // it) so that it is never the one backed up.
  async function flood(fast: TestClient, room: string, total: number, content: string): Promise<void> {
    for (let sent = 0; sent < total;) {
      const batch = Math.min(40, total - sent);
      for (let k = 0; k < batch; k++, sent++) fast.send({ type: 'message', room, content, id: `f${sent}` });
      await fast.waitFor('message', sent, 20000);
    }
  }
  const floodEnv = { RATE_LIMIT_PER_SEC: '100000', MAX_CONTENT_LENGTH: '8000', MAX_MESSAGE_BYTES: '16384' };

  it('closes a slow consumer 1013 while a fast member of the same room gets everything', async () => {
    const t = await startApp(floodEnv);
    try {
      const fast = await TestClient.connect(t.wsUrl, { token: t.token('fast') });
      const slow = await TestClient.connect(t.wsUrl, { token: t.token('slow') });
      await join(fast, 'flood');
      await join(slow, 'flood');
      // Stop reading: the kernel buffers fill, then the server's socket buffer, then its queue.
      (slow.ws as unknown as { _socket: Socket })._socket.pause();
      const total = 3000;
      await flood(fast, 'flood', total, 'z'.repeat(7000));
      expect(fast.all('message').map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, n) => n + 1));
      expect(fast.closeEvent).toBeNull();
      expect(t.hub.counters.evictions).toBe(1);
      (slow.ws as unknown as { _socket: Socket })._socket.resume();
      expect(await slow.closed(10000)).toEqual({ code: 1013, reason: 'slow consumer' });
      // what it did receive is an in-order prefix: nothing out of order, nothing duplicated
      const seqs = slow.all('message').map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, n) => n + 1));
      expect(seqs.length).toBeLessThan(total);
      fast.close();
    } finally {
      await t.close();
    }
  });

  it('destroys a slow consumer whose close handshake does not finish', async () => {
    const t = await startApp({ ...floodEnv, CLOSE_TIMEOUT_MS: '500' });
    try {
      const fast = await TestClient.connect(t.wsUrl, { token: t.token('fast2') });
      const stuck = await TestClient.connect(t.wsUrl, { token: t.token('stuck') });
      await join(fast, 'flood2');
      await join(stuck, 'flood2');
      (stuck.ws as unknown as { _socket: Socket })._socket.pause();
      const stuckGone = hubEvent(t.hub, 'disconnected', (e) => e.user.id === 'stuck', 25000);
      await flood(fast, 'flood2', 3000, 'q'.repeat(7000));
      await stuckGone;
      expect(t.hub.stats().connections).toBe(1);
      stuck.terminate();
      fast.close();
    } finally {
      await t.close();
    }
  });

  it('terminates a connection that stops answering pings after two heartbeat periods', async () => {
    const t = await startApp({ HEARTBEAT_MS: '300' });
    try {
      const c = await TestClient.connect(t.wsUrl, { token: t.token('mute') });
      const alive = await TestClient.connect(t.wsUrl, { token: t.token('alive') });
      // ws answers pings automatically; stop it from doing so for `c` only
      (c.ws as unknown as { pong: () => void }).pong = () => {};
      const started = Date.now();
      const closed = await c.closed(5000);
      expect(closed.code).toBe(1006);
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(alive.closeEvent).toBeNull();
      alive.close();
    } finally {
      await t.close();
    }
  });

  it('closes 1008 "token expired" without a refresh, and auth refreshes it', async () => {
    const t = await startApp({ JWT_CLOCK_TOLERANCE_SEC: '0' });
    try {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const expiring = await TestClient.connect(t.wsUrl, { token: t.token('exp', { exp }) });
      const refreshed = await TestClient.connect(t.wsUrl, { token: t.token('ref', { exp }) });
      refreshed.send({ type: 'auth', token: t.token('someone-else') });
      expect((await refreshed.next('error')).code).toBe('unauthorized');
      refreshed.send({ type: 'auth', token: 'garbage' });
      expect((await refreshed.next('error')).code).toBe('unauthorized');
      const fresh = t.token('ref', {}, { expiresIn: 600 });
      refreshed.send({ type: 'auth', token: fresh });
      const authed = await refreshed.next('authed');
      expect(authed.exp).toBeGreaterThan(exp);
      expect(await expiring.closed(5000)).toEqual({ code: 1008, reason: 'token expired' });
      // the sweep that closed `expiring` checked `refreshed` against the same old exp: its pong proves it stayed
      await refreshed.roundTrip();
      expect(refreshed.closeEvent).toBeNull();
      refreshed.close();
    } finally {
      await t.close();
    }
  });
});
