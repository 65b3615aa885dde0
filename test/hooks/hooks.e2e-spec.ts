import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.js';
import type { GatewayHooks } from '../../src/hooks/gateway-hooks.js';
import {
  get,
  HandshakeRefused,
  join,
  serviceToken,
  startApp,
  TEST_SECRET,
  TestClient,
  userToken,
  type TestApp,
} from '../harness/index.js';
import { type HookAnswer, HookBackend, type HookCall, moderatePublish } from './hook-backend.js';

/** The rules of the backend the main app talks to. */
function moderation(call: HookCall): HookAnswer {
  const { hook, body } = call;
  if (hook === 'connect') {
    if (body.user.id === 'mallory')
      return { json: { allow: false, code: 'banned', message: 'you are banned' } };
    if (body.user.id === 'granted')
      return { json: { allow: true, name: 'Granted (hooked)', rooms: ['g:*'] } };
    if (body.user.id === 'broken') return { status: 500, json: { oops: true } };
    return { json: { allow: true } };
  }
  if (hook === 'join') {
    if (body.room === 'secret')
      return { json: { allow: false, code: 'closed', message: 'the secret room is closed' } };
    return { json: { allow: true } };
  }
  // publish ('hang' is never answered)
  const content: string = body.content;
  return content === 'hang' ? 'hang' : moderatePublish(content);
}

describe('hooks over HTTP', () => {
  let backend: HookBackend;
  let t: TestApp;
  beforeAll(async () => {
    backend = await HookBackend.start();
    backend.rule = moderation;
    t = await startApp(
      backend.env('connect,join,publish', { HOOK_TIMEOUT_MS: '5000', RATE_LIMIT_PER_SEC: '1000' }),
    );
  });
  afterAll(async () => {
    await t.close();
    await backend.close();
  });

  const connect = (sub: string, claims: Record<string, unknown> = {}) =>
    TestClient.connect(t.wsUrl, { token: t.token(sub, claims) });

  it('connect: signed requests with the user, its claims and the ip; a denial is a 403 before the upgrade', async () => {
    const err = await connect('mallory').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeRefused);
    expect((err as HandshakeRefused).status).toBe(403);
    expect((err as HandshakeRefused).body).toEqual({ error: 'forbidden', message: 'you are banned' });

    const a = await connect('ann', { name: 'Ann', team: 'blue' });
    const call = backend.callsOf('connect').find((c) => c.body.user.id === 'ann')!;
    expect(call.signed).toBe(true);
    expect(Math.abs(call.timestamp - Date.now() / 1000)).toBeLessThan(30);
    expect(call.body).toMatchObject({
      user: { id: 'ann', name: 'Ann', claims: { sub: 'ann', team: 'blue' } },
    });
    expect(call.body.ip).toMatch(/127\.0\.0\.1/);
    await a.closeAndWait();
  });

  it('connect: the hook renames the user and replaces its rooms claim, also across a token refresh', async () => {
    const g = await connect('granted');
    expect(g.frames[0].user).toEqual({ id: 'granted', name: 'Granted (hooked)' });
    await join(g, 'g:one');
    g.send({ type: 'join', room: 'elsewhere', id: 'j1' });
    expect(await g.next('error', 3000, (f) => f.ref === 'j1')).toMatchObject({ code: 'forbidden' });
    g.send({ type: 'auth', token: t.token('granted') });
    await g.next('authed');
    g.send({ type: 'join', room: 'elsewhere2', id: 'j2' });
    expect(await g.next('error', 3000, (f) => f.ref === 'j2')).toMatchObject({ code: 'forbidden' });
    await join(g, 'g:two');
    g.send({ type: 'message', room: 'g:two', content: 'hi', id: 'gm' });
    const m = await g.next('message');
    expect(m.sender).toEqual({ id: 'granted', name: 'Granted (hooked)' });
    await g.closeAndWait();
  });

  it('join: a denial is error forbidden with the backend message and its code in details', async () => {
    const a = await connect('joiner');
    a.send({ type: 'join', room: 'secret', id: 'js' });
    const err = await a.next('error', 3000, (f) => f.ref === 'js');
    expect(err).toEqual({
      type: 'error',
      code: 'forbidden',
      message: 'the secret room is closed',
      ref: 'js',
      details: [{ field: 'hook', problem: 'closed' }],
    });
    const joined = await join(a, 'open');
    expect(joined.publish).toBeUndefined();
    const call = backend.callsOf('join').find((c) => c.body.room === 'open')!;
    expect(call.body).toMatchObject({ user: { id: 'joiner' }, room: 'open' });
    expect(call.signed).toBe(true);
    await a.closeAndWait();
  });

  it('publish: denies a word, rewrites content, and is skipped by trusted publishers', async () => {
    const a = await connect('writer');
    const b = await connect('reader');
    await join(a, 'pub');
    await join(b, 'pub');
    a.send({ type: 'message', room: 'pub', content: 'a badword here', id: 'p1' });
    expect(await a.next('error', 3000, (f) => f.ref === 'p1')).toEqual({
      type: 'error',
      code: 'forbidden',
      message: 'mind your words',
      ref: 'p1',
      details: [{ field: 'hook', problem: 'profanity' }],
    });
    const ack = await a.say('pub', 'oh darn it', 'p2');
    expect(ack.seq).toBe(1);
    expect(await b.next('message')).toMatchObject({ id: 'p2', seq: 1, content: 'oh d**n it' });
    const call = backend.callsOf('publish').find((c) => c.body.id === 'p2')!;
    expect(call.body).toMatchObject({ user: { id: 'writer' }, room: 'pub', id: 'p2', content: 'oh darn it' });

    const before = backend.callsOf('publish').length;
    await t.hub.publish('pub', 'a badword from a service');
    expect(await b.next('message')).toMatchObject({ seq: 2, content: 'a badword from a service' });
    expect(backend.callsOf('publish').length).toBe(before);
    // Several hook calls, few connections: they are kept alive.
    expect(backend.connections).toBeLessThan(backend.calls.length);
    await a.closeAndWait();
    await b.closeAndWait();
  });

  it('publish: skipHistory is delivered live and acked with its seq, but a join with since never replays it', async () => {
    const a = await connect('typist');
    const b = await connect('member');
    await join(a, 'eph');
    await join(b, 'eph');
    expect((await a.say('eph', 'before', 'e1')).seq).toBe(1);
    expect((await a.say('eph', 'ephemeral', 'e2')).seq).toBe(2);
    expect((await a.say('eph', 'after', 'e3')).seq).toBe(3);
    const live = await b.waitFor('message', 3);
    expect(live.map((m) => [m.seq, m.content])).toEqual([
      [1, 'before'],
      [2, 'ephemeral'],
      [3, 'after'],
    ]);

    const late = await connect('latecomer');
    const joined = await join(late, 'eph', { since: 0 });
    expect(late.all('message').map((m) => [m.seq, m.content])).toEqual([
      [1, 'before'],
      [3, 'after'],
    ]);
    expect(joined).toMatchObject({ seq: 3, recovered: true });
    await a.closeAndWait();
    await b.closeAndWait();
    await late.closeAndWait();
  });

  it('publish: a resume whose gap holds only skipHistory messages is recovered (join and server API)', async () => {
    const a = await connect('typing');
    const late = await connect('resumer');
    const again = await connect('resumer2');
    try {
      await join(a, 'typing-room');
      for (const id of ['t1', 't2', 't3']) await a.say('typing-room', 'ephemeral', id);
      const none = await join(late, 'typing-room', { since: 0 });
      expect(late.all('message')).toEqual([]);
      expect(none).toMatchObject({ seq: 3, oldestSeq: 4, recovered: true });
      expect((await a.say('typing-room', 'hello', 't4')).seq).toBe(4);
      const joined = await join(again, 'typing-room', { since: 1 });
      expect(again.all('message').map((m) => [m.seq, m.content])).toEqual([[4, 'hello']]);
      expect(joined).toMatchObject({ seq: 4, oldestSeq: 4, recovered: true });
      const reader = { authorization: `Bearer ${serviceToken('dash', { scope: 'read' })}` };
      const api = await get(`${t.httpUrl}/api/rooms/typing-room/history?since=0`, reader);
      expect(api.status).toBe(200);
      expect(api.body).toMatchObject({ recovered: true, oldestSeq: 4 });
      expect(api.body.messages.map((m: { seq: number }) => m.seq)).toEqual([4]);
    } finally {
      for (const c of [a, late, again]) c.terminate();
    }
  });

  it('publish: a slow hook delays the messages of a connection but never reorders them', async () => {
    const a = await connect('orderly');
    const b = await connect('watcher');
    await join(a, 'order');
    await join(b, 'order');
    const before = backend.callsOf('publish').length;
    const delays = [1000, 300, 200, 100, 0];
    delays.forEach((d, i) => a.send({ type: 'message', room: 'order', content: `slow:${d}`, id: `o${i}` }));
    // The hook calls are pipelined: all five reach the backend before the first (1 s) is answered.
    const calls = await backend.waitForCalls('publish', before + 5);
    expect(new Set(calls.slice(-5).map((c) => c.body.id))).toEqual(new Set(['o0', 'o1', 'o2', 'o3', 'o4']));
    expect(b.all('message')).toHaveLength(0);
    const got = await b.waitFor('message', 5);
    expect(got.map((m) => m.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const acks = await a.waitFor('ack', 5);
    expect(acks.map((f) => f.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    await a.closeAndWait();
    await b.closeAndWait();
  });

  it('publish: a stuck hook never evicts the sender; past 16 waiting messages it answers rate_limited', async () => {
    const a = await connect('flooder');
    await join(a, 'flood');
    for (let i = 0; i < 20; i++) a.send({ type: 'message', room: 'flood', content: 'hang', id: `f${i}` });
    const limited = await a.waitFor('error', 4);
    expect(limited.map((f) => [f.code, f.ref])).toEqual(
      [16, 17, 18, 19].map((i) => ['rate_limited', `f${i}`]),
    );
    await backend.waitForCalls('publish', 16, (c) => c.body.content === 'hang');
    // Unstick: the 16 waiting messages are published, in order, and the connection lives on.
    backend.release(200, { allow: true });
    const acks = await a.waitFor('ack', 16);
    expect(acks.map((f) => [f.id, f.seq])).toEqual(Array.from({ length: 16 }, (_, i) => [`f${i}`, i + 1]));
    const ack = await a.say('flood', 'after the flood', 'f-after');
    expect(ack.seq).toBe(17);
    expect(a.all('error')).toHaveLength(4);
    expect(a.closeEvent).toBeNull();
    await a.closeAndWait();
  });
});

describe('hooks that fail', () => {
  let backend: HookBackend;
  beforeAll(async () => {
    backend = await HookBackend.start();
  });
  afterAll(() => backend.close());

  const env = (extra: Record<string, string> = {}) =>
    backend.env('connect,join,publish', { HOOK_TIMEOUT_MS: '300', ...extra });

  it('refuses (unavailable) on a timeout, a non-2xx answer or an unreachable backend by default', async () => {
    const t = await startApp(env());
    try {
      backend.rule = ({ hook }) => (hook === 'connect' ? 'hang' : { json: { allow: true } });
      const err = await TestClient.connect(t.wsUrl, { token: t.token('u1') }).catch((e: unknown) => e);
      expect((err as HandshakeRefused).status).toBe(503);
      expect((err as HandshakeRefused).body).toMatchObject({ error: 'unavailable' });

      backend.rule = ({ hook }) =>
        hook === 'join' ? { status: 500 } : hook === 'publish' ? 'hang' : { json: { allow: true } };
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u2') });
      a.send({ type: 'join', room: 'r', id: 'j' });
      expect(await a.next('error', 3000, (f) => f.ref === 'j')).toMatchObject({ code: 'unavailable' });
      backend.rule = ({ hook }) => (hook === 'publish' ? 'hang' : { json: { allow: true } });
      await join(a, 'r');
      a.send({ type: 'message', room: 'r', content: 'x', id: 'm' });
      const e = await a.next('error', 3000, (f) => f.ref === 'm');
      expect(e).toMatchObject({
        code: 'unavailable',
        message: expect.stringContaining('retry with the same id'),
      });
      // Retried with the same id once the backend answers: published once.
      backend.rule = () => ({ json: { allow: true } });
      a.send({ type: 'message', room: 'r', content: 'x', id: 'm' });
      expect(await a.next('ack', 3000, (f) => f.id === 'm')).toMatchObject({ seq: 1 });
      await a.closeAndWait();
    } finally {
      await t.close();
    }
  });

  it('HOOK_PUBLISH_MAX_PENDING bounds the messages a connection may have waiting for the hook', async () => {
    // ERROR_LIMIT 3: the slow hook's refusals are the backend's doing, not the client's, and do not
    // count toward it (before, the third refusal closed the connection 1008 `too many errors`).
    const t = await startApp(
      env({ HOOK_PUBLISH_MAX_PENDING: '3', HOOK_TIMEOUT_MS: '5000', ERROR_LIMIT: '3' }),
    );
    try {
      backend.rule = ({ hook, body }) =>
        hook === 'publish' && body.content === 'wait' ? 'hang' : { json: { allow: true } };
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u5') });
      await join(a, 'r');
      for (let i = 0; i < 8; i++) a.send({ type: 'message', room: 'r', content: 'wait', id: `w${i}` });
      const limited = await a.waitFor('error', 5);
      expect(limited.map((f) => [f.code, f.ref])).toEqual(
        [3, 4, 5, 6, 7].map((i) => ['rate_limited', `w${i}`]),
      );
      expect(limited[0].message).toMatch(/^3 messages are already waiting for the publish hook/);
      await a.roundTrip();
      expect(a.closeEvent).toBeNull();
      await backend.waitForCalls(
        'publish',
        3,
        (c) => c.body.content === 'wait' && /^w[0-2]$/.test(c.body.id),
      );
      backend.release(200, { allow: true });
      expect((await a.waitFor('ack', 3)).map((f) => f.id)).toEqual(['w0', 'w1', 'w2']);
      await a.closeAndWait();
    } finally {
      await t.close();
    }
  });

  it('unreachable backend: connect is 503 unavailable', async () => {
    const t = await startApp(env({ HOOK_URL: 'http://127.0.0.1:9/hooks' }));
    try {
      const err = await TestClient.connect(t.wsUrl, { token: t.token('u3') }).catch((e: unknown) => e);
      expect((err as HandshakeRefused).status).toBe(503);
    } finally {
      await t.close();
    }
  });

  it('HOOK_FAIL_OPEN=true goes ahead unchanged when the hook fails', async () => {
    const t = await startApp(env({ HOOK_FAIL_OPEN: 'true' }));
    try {
      backend.rule = () => ({ status: 502 });
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u4', { name: 'Four' }) });
      expect(a.frames[0].user).toEqual({ id: 'u4', name: 'Four' });
      await join(a, 'open');
      expect((await a.say('open', 'as sent', 'o1')).seq).toBe(1);
      expect(await a.next('message')).toMatchObject({ content: 'as sent' });
      await a.closeAndWait();
    } finally {
      await t.close();
    }
  });
});

describe('hooks in process', () => {
  let app: INestApplication;
  let wsUrl: string;
  const seen: string[] = [];
  beforeAll(async () => {
    const hooks: GatewayHooks = {
      publish: async ({ content, user }) => {
        seen.push(`${user.id}:${content}`);
        return content === 'nope'
          ? { allow: false, message: 'not here' }
          : { allow: true, content: content.toUpperCase() };
      },
    };
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', JWT_SECRET: TEST_SECRET });
    app = await createApp(config, { hooks: { useValue: hooks } });
    await app.listen(0, '127.0.0.1');
    wsUrl = `ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/ws`;
  });
  afterAll(() => app.close());

  it('a module of the same app provides the hooks; absent hooks are not asked', async () => {
    const a = await TestClient.connect(wsUrl, { token: userToken('inproc') });
    await join(a, 'r');
    await a.say('r', 'shout', 'i1');
    expect(await a.next('message')).toMatchObject({ content: 'SHOUT' });
    a.send({ type: 'message', room: 'r', content: 'nope', id: 'i2' });
    expect(await a.next('error', 3000, (f) => f.ref === 'i2')).toEqual({
      type: 'error',
      code: 'forbidden',
      message: 'not here',
      ref: 'i2',
    });
    expect(seen).toEqual(['inproc:shout', 'inproc:nope']);
    await a.closeAndWait();
  });
});
