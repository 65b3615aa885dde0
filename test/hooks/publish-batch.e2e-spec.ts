import { join, startApp, TestClient, type TestApp } from '../harness/index.js';
import { HookBackend, type HookCall, moderatePublish } from './hook-backend.js';

/**
 * Holds this process's event loop (the app runs in it) for a moment: the frames the test clients
 * wrote before it are all in the app's sockets when it ends, so the app reads them in one turn and
 * their publish calls leave in one batch. Nothing else makes "one turn" deterministic in a test.
 */
function stallOneTurn(ms = 30): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const batches = (backend: HookBackend, match: (c: HookCall) => boolean = () => true) =>
  backend.callsOf('publish/batch', match);
const ids = (batch: HookCall) => (batch.body.requests as { id: string }[]).map((r) => r.id);

describe('the publish hook in batches (HOOK_PUBLISH_BATCH)', () => {
  let backend: HookBackend;
  let t: TestApp;
  beforeAll(async () => {
    backend = await HookBackend.start();
    // Per message, as the single-call tests' backend: deny a word, rewrite, skip history, delay.
    backend.rule = ({ body }) => moderatePublish(body.content);
    t = await startApp(
      backend.env('publish', {
        HOOK_PUBLISH_BATCH: '8',
        HOOK_TIMEOUT_MS: '5000',
        RATE_LIMIT_PER_SEC: '1000',
      }),
    );
  });
  afterAll(async () => {
    await t.close();
    await backend.close();
  });

  const connect = (sub: string) => TestClient.connect(t.wsUrl, { token: t.token(sub, { name: sub }) });

  it('one signed batch decides allow, deny, rewrite and skipHistory per entry', async () => {
    const a = await connect('mixer');
    const b = await connect('listener');
    await join(a, 'mix');
    await join(b, 'mix');
    const contents = ['plain', 'a badword', 'oh darn', 'ephemeral'];
    contents.forEach((content, i) => a.send({ type: 'message', room: 'mix', content, id: `x${i}` }));
    stallOneTurn();

    const [batch] = await backend.waitForCalls('publish/batch', 1, (c) => ids(c).includes('x0'));
    expect(batch.signed).toBe(true);
    expect(Math.abs(batch.timestamp - Date.now() / 1000)).toBeLessThan(30);
    expect(ids(batch)).toEqual(['x0', 'x1', 'x2', 'x3']);
    // Each request is exactly the body /publish gets.
    expect(batch.body.requests[2]).toEqual({
      user: { id: 'mixer', name: 'mixer', claims: expect.objectContaining({ sub: 'mixer', name: 'mixer' }) },
      ip: expect.stringMatching(/127\.0\.0\.1/),
      room: 'mix',
      id: 'x2',
      content: 'oh darn',
    });
    expect(backend.callsOf('publish', (c) => c.batch === undefined)).toEqual([]);

    expect(await a.next('error', 3000, (f) => f.ref === 'x1')).toEqual({
      type: 'error',
      code: 'forbidden',
      message: 'mind your words',
      ref: 'x1',
      details: [{ field: 'hook', problem: 'profanity' }],
    });
    const acks = await a.waitFor('ack', 3);
    expect(acks.map((f) => [f.id, f.seq])).toEqual([
      ['x0', 1],
      ['x2', 2],
      ['x3', 3],
    ]);
    const got = await b.waitFor('message', 3);
    expect(got.map((m) => [m.id, m.seq, m.content])).toEqual([
      ['x0', 1, 'plain'],
      ['x2', 2, 'oh d**n'],
      ['x3', 3, 'ephemeral'],
    ]);
    // skipHistory kept the third out of history.
    const late = await connect('latecomer');
    await join(late, 'mix', { since: 0 });
    expect(late.all('message').map((m) => m.content)).toEqual(['plain', 'oh d**n']);
    for (const c of [a, b, late]) await c.closeAndWait();
  });

  it('the messages several connections send in one turn go in one request', async () => {
    const senders = await Promise.all(['s1', 's2', 's3'].map((s) => connect(s)));
    const reader = await connect('crowd-reader');
    for (const c of [...senders, reader]) await join(c, 'crowd');
    senders.forEach((c, i) => c.send({ type: 'message', room: 'crowd', content: `from ${i}`, id: `c${i}` }));
    stallOneTurn();
    const got = await reader.waitFor('message', 3);
    expect(got.map((m) => m.id).sort()).toEqual(['c0', 'c1', 'c2']);
    const carrying = batches(backend, (c) => ids(c).some((id) => /^c\d$/.test(id)));
    expect(carrying).toHaveLength(1);
    expect(ids(carrying[0]).sort()).toEqual(['c0', 'c1', 'c2']);
    expect(new Set(carrying[0].body.requests.map((r: { user: { id: string } }) => r.user.id))).toEqual(
      new Set(['s1', 's2', 's3']),
    );
    for (const c of [...senders, reader]) await c.closeAndWait();
  });

  it('a turn with more messages than HOOK_PUBLISH_BATCH is split; the order holds', async () => {
    const a = await connect('bulk');
    const b = await connect('bulk-reader');
    await join(a, 'bulk');
    await join(b, 'bulk');
    for (let i = 0; i < 12; i++) a.send({ type: 'message', room: 'bulk', content: `n${i}`, id: `n${i}` });
    stallOneTurn();
    const got = await b.waitFor('message', 12);
    expect(got.map((m) => m.id)).toEqual(Array.from({ length: 12 }, (_, i) => `n${i}`));
    const sent = batches(backend, (c) => ids(c).some((id) => /^n\d+$/.test(id)));
    expect(sent.map((c) => ids(c).length)).toEqual([8, 4]);
    await a.closeAndWait();
    await b.closeAndWait();
  });

  it('a connection’s messages keep their order across batches answered out of order', async () => {
    const a = await connect('orderly');
    const b = await connect('watcher');
    await join(a, 'order');
    await join(b, 'order');
    const delays = [800, 300, 0];
    for (const [i, d] of delays.entries()) {
      a.send({ type: 'message', room: 'order', content: `slow:${d}`, id: `o${i}` });
      // Each in a batch of its own: the next is sent once the backend has this one.
      await backend.waitForCalls('publish', 1, (c) => c.body.id === `o${i}`);
    }
    const sent = batches(backend, (c) => ids(c).some((id) => /^o\d$/.test(id)));
    expect(sent.map(ids)).toEqual([['o0'], ['o1'], ['o2']]);
    expect(b.all('message')).toHaveLength(0);
    const got = await b.waitFor('message', 3);
    expect(got.map((m) => [m.id, m.seq])).toEqual([
      ['o0', 1],
      ['o1', 2],
      ['o2', 3],
    ]);
    expect((await a.waitFor('ack', 3)).map((f) => f.id)).toEqual(['o0', 'o1', 'o2']);
    await a.closeAndWait();
    await b.closeAndWait();
  });
});

describe('batched publish hook calls that fail', () => {
  let backend: HookBackend;
  beforeAll(async () => {
    backend = await HookBackend.start();
  });
  afterAll(() => backend.close());
  afterEach(() => {
    backend.rule = () => ({ json: { allow: true } });
    backend.batchRule = (call) => backend.answerEach(call);
  });

  const env = (extra: Record<string, string> = {}) =>
    backend.env('publish', {
      HOOK_PUBLISH_BATCH: '8',
      HOOK_TIMEOUT_MS: '300',
      RATE_LIMIT_PER_SEC: '1000',
      ...extra,
    });

  /** Two messages from `c` in one batch; their error frames (or acks) as [ref, code]. */
  async function sendPair(c: TestClient, room: string, prefix: string): Promise<string[][]> {
    const from = c.frames.length;
    c.send({ type: 'message', room, content: 'one', id: `${prefix}1` });
    c.send({ type: 'message', room, content: 'two', id: `${prefix}2` });
    stallOneTurn();
    const out: string[][] = [];
    for (const id of [`${prefix}1`, `${prefix}2`]) {
      const f = await c.find(
        (f) => (f.type === 'ack' && f.id === id) || (f.type === 'error' && f.ref === id),
        `answer to ${id}`,
        3000,
        from,
      );
      out.push([id, f.type === 'ack' ? 'ack' : (f.code as string)]);
    }
    const sent = await backend.waitForCalls('publish/batch', 1, (b) => ids(b).includes(`${prefix}1`));
    expect(ids(sent[sent.length - 1])).toEqual([`${prefix}1`, `${prefix}2`]);
    return out;
  }

  it('fail-closed: a non-2xx answer, a wrong-length answer, a timeout: every message of the batch is unavailable', async () => {
    const t = await startApp(env());
    try {
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u1') });
      await join(a, 'r');

      backend.batchRule = () => ({ status: 500, json: { oops: true } });
      expect(await sendPair(a, 'r', 'e')).toEqual([
        ['e1', 'unavailable'],
        ['e2', 'unavailable'],
      ]);
      backend.batchRule = () => ({ json: { results: [{ allow: true }] } });
      expect(await sendPair(a, 'r', 'w')).toEqual([
        ['w1', 'unavailable'],
        ['w2', 'unavailable'],
      ]);
      backend.batchRule = () => ({ json: { allow: true } });
      expect(await sendPair(a, 'r', 'n')).toEqual([
        ['n1', 'unavailable'],
        ['n2', 'unavailable'],
      ]);
      backend.batchRule = () => 'hang';
      const asked = Date.now();
      expect(await sendPair(a, 'r', 'h')).toEqual([
        ['h1', 'unavailable'],
        ['h2', 'unavailable'],
      ]);
      expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
      const e = a.all('error').find((f) => f.ref === 'h1')!;
      expect(e.message).toContain('retry with the same id');

      // Retried with the same ids once the backend answers: published, in order.
      backend.batchRule = (call) => ({ json: { results: call.body.requests.map(() => ({ allow: true })) } });
      expect(await sendPair(a, 'r', 'h')).toEqual([
        ['h1', 'ack'],
        ['h2', 'ack'],
      ]);
      expect(a.all('ack').map((f) => [f.id, f.seq])).toEqual([
        ['h1', 1],
        ['h2', 2],
      ]);
      await a.closeAndWait();
    } finally {
      await t.close();
    }
  });

  it('one malformed entry fails only its own message', async () => {
    const t = await startApp(env());
    try {
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u2') });
      await join(a, 'r');
      backend.batchRule = () => ({ json: { results: [{ allow: 'yes' }, { allow: true }] } });
      expect(await sendPair(a, 'r', 'm')).toEqual([
        ['m1', 'unavailable'],
        ['m2', 'ack'],
      ]);
      await a.closeAndWait();
    } finally {
      await t.close();
    }
  });

  it('HOOK_FAIL_OPEN=true publishes every message of a failed batch unchanged', async () => {
    const t = await startApp(env({ HOOK_FAIL_OPEN: 'true' }));
    try {
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u3') });
      await join(a, 'open');
      backend.batchRule = () => ({ status: 502 });
      expect(await sendPair(a, 'open', 'f')).toEqual([
        ['f1', 'ack'],
        ['f2', 'ack'],
      ]);
      expect((await a.waitFor('message', 2)).map((m) => m.content)).toEqual(['one', 'two']);
      await a.closeAndWait();
    } finally {
      await t.close();
    }
  });
});
