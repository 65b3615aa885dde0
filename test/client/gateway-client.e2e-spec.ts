// GatewayClient against the real gateway (`node dist/main.js` as a child process): reconnect,
// resume with since/epoch (exactly once, in order), the outbox and its retries with the same id,
// and no reconnect after a 401 or a close 1008 without a new token from getToken.

import { jest } from '@jest/globals';
import WebSocket from 'ws';
import {
  GatewayClient,
  type GatewayClientOptions,
  type TokenReason,
} from '../../src/client/gateway-client.js';
import {
  ClientRecorder,
  freePort,
  GatewayProcess,
  instrumentedWebSocket,
  signToken,
  TestClient,
} from '../harness/index.js';

jest.setTimeout(60_000);

const SECRET = 'client-e2e-secret-0123456789abcdef0123456789';
const FAST = { minMs: 20, maxMs: 200 };

let server: GatewayProcess;
let deadPort: number;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  deadPort = await freePort();
  server = await GatewayProcess.start({
    env: { JWT_SECRET: SECRET, HISTORY_SIZE: '5', RATE_LIMIT_PER_SEC: '10' },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.stop();
});

/** A client on `srv` with its recorder; closed after the test. */
function makeClient(
  options: Partial<GatewayClientOptions> & { token?: string },
  srv: GatewayProcess = server,
) {
  const client = new GatewayClient({ url: srv.wsUrl, WebSocketImpl: WebSocket, reconnect: FAST, ...options });
  clients.push(client);
  return { client, rec: new ClientRecorder(client) };
}

function token(sub: string, ttlSec = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ sub, name: sub, iat: now, exp: now + ttlSec }, { key: SECRET });
}

/** Unique room names so that tests sharing the server do not see each other's history. */
let roomCounter = 0;
const room = (label: string) => `${label}-${Date.now().toString(36)}-${roomCounter++}`;

function expectConsecutive(seqs: number[]): void {
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1] + 1);
}

describe('reconnect and resume', () => {
  it('reconnects after a network drop and delivers what it missed exactly once, in order', async () => {
    const r = room('resume');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl });
    const bob = makeClient({ token: token('bob') });
    await alice.client.connect();
    await bob.client.connect();
    const first = await alice.client.join(r);
    await bob.client.join(r);

    await bob.client.send(r, 'm1');
    await bob.client.send(r, 'm2');
    await alice.rec.waitForContents(r, ['m1', 'm2']);

    // The network goes away: the socket dies without a close frame, and new handshakes fail.
    control.blocked = true;
    const statusesBefore = alice.rec.statuses().length;
    control.cutAll();
    await alice.rec.waitForStatus('reconnecting', statusesBefore);
    for (const content of ['m3', 'm4', 'm5', 'm6']) await bob.client.send(r, content);
    await alice.rec.waitFor('a refused reconnect attempt', () => alice.rec.of('close').length >= 2);
    expect(alice.client.status).toBe('reconnecting');

    control.blocked = false;
    await alice.rec.waitForStatus('connected', statusesBefore);
    await alice.rec.waitForContents(r, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    await bob.client.send(r, 'm7');
    await alice.rec.waitForContents(r, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);

    expect(alice.rec.contents(r)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expectConsecutive(alice.rec.of('message').map((m) => m.seq));
    // The rejoin asked for what came after the last seq seen, in the epoch it was seen in.
    const joins = control.sentOfType('join').filter((f) => f.room === r);
    expect(joins[0]).toEqual({ type: 'join', room: r });
    expect(joins.at(-1)).toEqual({ type: 'join', room: r, since: first.seq + 2, epoch: first.epoch });
    expect(alice.rec.of('joined').at(-1)).toMatchObject({ room: r, recovered: true });
    expect(alice.rec.of('gap')).toEqual([]);
  });

  it('drops a room message delivered twice: the application sees each seq once', async () => {
    const r = room('twice');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl });
    const bob = makeClient({ token: token('bob') });
    await alice.client.connect();
    await bob.client.connect();
    await alice.client.join(r);
    await bob.client.join(r);
    control.inbound = (f) => (f.type === 'message' ? 'twice' : 'pass');
    for (const c of ['d1', 'd2', 'd3']) await bob.client.send(r, c);
    await alice.rec.waitFor(
      'six message frames',
      () => alice.rec.of('frame').filter((f) => f.type === 'message').length === 6,
    );
    expect(alice.rec.contents(r)).toEqual(['d1', 'd2', 'd3']);
  });

  it('reports recovered:false when history no longer covers the gap, and delivers what it still holds in order', async () => {
    const r = room('gap');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl });
    const bob = makeClient({ token: token('bob') });
    await alice.client.connect();
    await bob.client.connect();
    await alice.client.join(r);
    await bob.client.join(r);
    await bob.client.send(r, 'g1');
    await alice.rec.waitForContents(r, ['g1']);

    control.blocked = true;
    control.cutAll();
    await alice.rec.waitForStatus('reconnecting');
    // HISTORY_SIZE is 5: after 8 more messages it holds g5..g9 only.
    for (let i = 2; i <= 9; i++) await bob.client.send(r, `g${i}`);
    control.blocked = false;

    await alice.rec.waitFor('a gap event', () => alice.rec.of('gap').length === 1);
    await alice.rec.waitForContents(r, ['g1', 'g5', 'g6', 'g7', 'g8', 'g9']);
    const [gap] = alice.rec.of('gap');
    expect(gap).toMatchObject({
      room: r,
      recovered: false,
      since: 1,
      oldestSeq: 5,
      seq: 9,
      epochChanged: false,
    });
    expect(alice.rec.contents(r)).toEqual(['g1', 'g5', 'g6', 'g7', 'g8', 'g9']);
    // The gap is announced before the replayed messages reach the application.
    const order = alice.rec.events.filter((e) => e.type === 'gap' || e.type === 'message').map((e) => e.type);
    expect(order).toEqual(['message', 'gap', 'message', 'message', 'message', 'message', 'message']);
  });

  it('after a server restart (new epoch, new JWT secret) asks for a new token, resumes with its old epoch and gets the new generation exactly once', async () => {
    // A server of its own without JWT_SECRET, in development mode (dev tokens): a new secret at
    // every boot (each run has a working directory, and so a ./.dev-secret, of its own).
    const srv = await GatewayProcess.start({
      development: true,
      env: { JWT_SECRET: '', HISTORY_SIZE: '50' },
    });
    try {
      const r = room('epoch');
      const { Impl, control } = instrumentedWebSocket(deadPort);
      const reasons: TokenReason[] = [];
      const alice = makeClient(
        {
          token: await srv.devToken('alice'),
          WebSocketImpl: Impl,
          getToken: async (reason) => {
            reasons.push(reason);
            return srv.devToken('alice');
          },
        },
        srv,
      );
      await alice.client.connect();
      const before = await alice.client.join(r);
      const bob = makeClient({ token: await srv.devToken('bob') }, srv);
      await bob.client.connect();
      await bob.client.join(r);
      for (const c of ['old1', 'old2', 'old3']) await bob.client.send(r, c);
      await alice.rec.waitForContents(r, ['old1', 'old2', 'old3']);
      await bob.client.close();

      // Keep alice away until the new instance has messages she must not drop as "already seen":
      // their seqs (1, 2) are below her last seq (3).
      control.blocked = true;
      await srv.kill();
      await alice.rec.waitForStatus('reconnecting');
      await srv.start();
      const carol = makeClient({ token: await srv.devToken('carol') }, srv);
      await carol.client.connect();
      await carol.client.join(r);
      await carol.client.send(r, 'new1');
      await carol.client.send(r, 'new2');
      control.blocked = false;

      await alice.rec.waitForContents(r, ['old1', 'old2', 'old3', 'new1', 'new2'], 15_000);
      await carol.client.send(r, 'new3');
      await alice.rec.waitForContents(r, ['old1', 'old2', 'old3', 'new1', 'new2', 'new3']);
      expect(alice.rec.contents(r)).toEqual(['old1', 'old2', 'old3', 'new1', 'new2', 'new3']);

      // The old token died with the old secret: a 401, then getToken, then the new token.
      expect(alice.rec.of('close').some((c) => c.httpStatus === 401)).toBe(true);
      expect(reasons).toContain('unauthorized');
      expect(control.sentOfType('join').at(-1)).toEqual({
        type: 'join',
        room: r,
        since: 3,
        epoch: before.epoch,
      });
      const gap = alice.rec.of('gap');
      expect(gap).toHaveLength(1);
      expect(gap[0]).toMatchObject({ room: r, recovered: false, since: 3, epochChanged: true });
      expect(gap[0].epoch).not.toBe(before.epoch);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await srv.stop();
    }
  });
});

describe('outbox', () => {
  it('queues sends made while disconnected and sends them, with the same ids, after the reconnect', async () => {
    const r = room('outbox');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl, outboxLimit: 3 });
    const bob = makeClient({ token: token('bob') });
    await alice.client.connect();
    await bob.client.connect();
    await alice.client.join(r);
    await bob.client.join(r);

    control.blocked = true;
    control.cutAll();
    await alice.rec.waitForStatus('reconnecting');
    const sends = ['q1', 'q2', 'q3'].map((c, i) => alice.client.send(r, c, { id: `out-${r}-${i}` }));
    expect(alice.client.pendingCount).toBe(3);
    await expect(alice.client.send(r, 'q4')).rejects.toMatchObject({ code: 'outbox_full' });
    expect(control.sentOfType('message')).toEqual([]);

    control.blocked = false;
    const acks = await Promise.all(sends);
    expect(acks.map((a) => a.id)).toEqual([`out-${r}-0`, `out-${r}-1`, `out-${r}-2`]);
    expectConsecutive(acks.map((a) => a.seq));
    await bob.rec.waitForContents(r, ['q1', 'q2', 'q3']);
    expect(bob.rec.contents(r)).toEqual(['q1', 'q2', 'q3']);
    expect(control.sentOfType('message').map((f) => f.id)).toEqual(acks.map((a) => a.id));
  });

  it('resends a message whose ack was lost with the same id; the server deduplicates it', async () => {
    const r = room('dedup');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl });
    const bob = makeClient({ token: token('bob') });
    await alice.client.connect();
    await bob.client.connect();
    await alice.client.join(r);
    await bob.client.join(r);

    const id = `lost-ack-${r}`;
    let cut = false;
    // The server got the message and acked it; the ack dies with the connection.
    control.inbound = (f) => {
      if (!cut && f.type === 'ack' && f.id === id) {
        cut = true;
        return 'cut';
      }
      return 'pass';
    };
    const ack = await alice.client.send(r, 'exactly once', { id });
    expect(cut).toBe(true);
    expect(control.sentOfType('message').filter((f) => f.id === id)).toHaveLength(2);

    await alice.client.send(r, 'after');
    await bob.rec.waitForContents(r, ['exactly once', 'after']);
    expect(bob.rec.contents(r)).toEqual(['exactly once', 'after']);
    const delivered = bob.rec.of('message').find((m) => m.id === id);
    expect(delivered?.seq).toBe(ack.seq);
    await alice.rec.waitForContents(r, ['exactly once', 'after']);
    expect(alice.rec.contents(r)).toEqual(['exactly once', 'after']);
  });

  it('retries a send refused as rate_limited with the same id until it is accepted', async () => {
    const r = room('rate');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    // pace:false lets the client outrun the server's bucket (10/s, burst 10) on purpose; 13 frames
    // stay under the 20 errors in 10 s that would close the connection 1008.
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl, pace: false, retryDelayMs: 150 });
    const bob = makeClient({ token: token('bob') });
    await alice.client.connect();
    await bob.client.connect();
    await alice.client.join(r);
    await bob.client.join(r);

    const contents = Array.from({ length: 13 }, (_, i) => `burst${i}`);
    const acks = await Promise.all(contents.map((c) => alice.client.send(r, c)));
    const limited = alice.rec.of('error').filter((e) => e.code === 'rate_limited');
    expect(limited.length).toBeGreaterThan(0);
    // Every refused id was sent again, unchanged.
    for (const e of limited) {
      expect(control.sentOfType('message').filter((f) => f.id === e.ref).length).toBeGreaterThanOrEqual(2);
    }
    await bob.rec.waitForContents(r, contents);
    expect([...bob.rec.contents(r)].sort()).toEqual([...contents].sort());
    expect(new Set(bob.rec.of('message').map((m) => m.id)).size).toBe(contents.length);
    expectConsecutive(bob.rec.of('message').map((m) => m.seq));
    expect(new Set(acks.map((a) => a.seq)).size).toBe(contents.length);
  });

  it('paces its frames to the advertised rate so a burst is not refused', async () => {
    const r = room('paced');
    const alice = makeClient({ token: token('alice') });
    await alice.client.connect();
    await alice.client.join(r);
    const acks = await Promise.all(Array.from({ length: 14 }, (_, i) => alice.client.send(r, `p${i}`)));
    expectConsecutive(acks.map((a) => a.seq));
    expect(alice.rec.of('error')).toEqual([]);
  });

  it('refuses content over maxContentLength before sending it', async () => {
    const r = room('long');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: token('alice'), WebSocketImpl: Impl });
    const welcome = await alice.client.connect();
    await alice.client.join(r);
    const limit = welcome.limits.maxContentLength;
    await expect(alice.client.send(r, 'x'.repeat(limit + 1))).rejects.toMatchObject({ code: 'too_long' });
    expect(control.sentOfType('message')).toEqual([]);
    await expect(alice.client.send(r, 'x'.repeat(limit))).resolves.toMatchObject({ room: r });
  });

  it('rejects with the server error that carries the same ref', async () => {
    const alice = makeClient({ token: token('alice') });
    await alice.client.connect();
    await expect(alice.client.send(room('never-joined'), 'hi', { id: 'ref-check' })).rejects.toMatchObject({
      code: 'not_joined',
      ref: 'ref-check',
      fromServer: true,
    });
  });
});

// The 401s here are the handshake's (?token=, ticketUrl: false); test/e2e/ws-ticket.e2e-spec.ts has
// the ticket endpoint's.
describe('tokens: no retry after 401 or 1008 without a new token', () => {
  it('goes offline after a 401 when there is no getToken, with a single handshake', async () => {
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const alice = makeClient({ token: 'not-a-jwt', WebSocketImpl: Impl, ticketUrl: false });
    await expect(alice.client.connect()).rejects.toMatchObject({ code: 'offline' });
    expect(alice.client.status).toBe('offline');
    expect(alice.rec.statuses()).toEqual(['connecting', 'offline']);
    expect(alice.rec.of('close')).toEqual([
      { code: 1006, reason: '', httpStatus: 401, willReconnect: false },
    ]);
    expect(alice.rec.of('reconnect')).toEqual([]);
    expect(control.urls).toHaveLength(1);
  });

  it('after a 401 asks getToken; without a new token it stops, with one it connects', async () => {
    const bad = signToken(
      { sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 },
      { key: 'some-other-secret-that-the-server-does-not-know' },
    );

    const first = instrumentedWebSocket(deadPort);
    const reasons1: TokenReason[] = [];
    const a1 = makeClient({
      token: bad,
      ticketUrl: false,
      WebSocketImpl: first.Impl,
      getToken: (r) => (reasons1.push(r), undefined),
    });
    await expect(a1.client.connect()).rejects.toMatchObject({ code: 'offline' });
    expect(reasons1).toEqual(['unauthorized']);
    expect(first.control.urls).toHaveLength(1);

    const same = instrumentedWebSocket(deadPort);
    const reasons2: TokenReason[] = [];
    const a2 = makeClient({
      token: bad,
      ticketUrl: false,
      WebSocketImpl: same.Impl,
      getToken: (r) => (reasons2.push(r), bad),
    });
    await expect(a2.client.connect()).rejects.toMatchObject({ code: 'offline' });
    expect(reasons2).toEqual(['unauthorized']);
    expect(same.control.urls).toHaveLength(1);

    const good = token('alice');
    const fresh = instrumentedWebSocket(deadPort);
    const reasons3: TokenReason[] = [];
    const a3 = makeClient({
      token: bad,
      ticketUrl: false,
      WebSocketImpl: fresh.Impl,
      getToken: (r) => (reasons3.push(r), good),
    });
    const welcome = await a3.client.connect();
    expect(welcome.user.id).toBe('alice');
    expect(reasons3).toEqual(['unauthorized']);
    expect(fresh.control.urls).toHaveLength(2);
    expect(fresh.control.urls[1]).toContain(`token=${encodeURIComponent(good)}`);
  });

  it('after a close 1008 "token expired" asks getToken before reconnecting, and stops without a new token', async () => {
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const reasons: TokenReason[] = [];
    const alice = makeClient({
      token: token('alice', 2),
      WebSocketImpl: Impl,
      tokenRefresh: false,
      getToken: (r) => (reasons.push(r), null),
    });
    await alice.client.connect();
    await alice.rec.waitForStatus('offline', 0, 8000);
    expect(alice.rec.of('close')).toMatchObject([
      { code: 1008, reason: 'token expired', willReconnect: true },
    ]);
    expect(reasons).toEqual(['expired']);
    expect(control.urls).toHaveLength(1);
  });

  it('after a close 1008 reconnects with the token getToken gives, and rejoins its rooms', async () => {
    const r = room('expired');
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const reasons: TokenReason[] = [];
    const alice = makeClient({
      token: token('alice', 2),
      WebSocketImpl: Impl,
      tokenRefresh: false,
      getToken: (reason) => (reasons.push(reason), token('alice')),
    });
    await alice.client.connect();
    await alice.client.join(r);
    await alice.rec.waitFor('close 1008', () => alice.rec.of('close').some((c) => c.code === 1008), 8000);
    await alice.rec.waitFor('rejoined', () => alice.rec.of('joined').length === 2);
    expect(alice.client.status).toBe('connected');
    expect(reasons).toEqual(['expired']);
    expect(control.urls).toHaveLength(2);
  });

  it('refreshes the token with an auth frame before it expires, so the connection survives', async () => {
    const { Impl, control } = instrumentedWebSocket(deadPort);
    const reasons: TokenReason[] = [];
    const alice = makeClient({
      token: token('alice', 3),
      // The witness below reuses the token of the first handshake URL.
      ticketUrl: false,
      WebSocketImpl: Impl,
      tokenRefresh: { marginMs: 1500 },
      getToken: (reason) => (reasons.push(reason), token('alice')),
    });
    await alice.client.connect();
    await alice.rec.waitFor('authed', () => alice.rec.of('authed').length === 1, 8000);
    expect(reasons).toEqual(['refresh']);
    expect(control.sentOfType('auth')).toHaveLength(1);
    // Past the first token's expiry the connection is still up. A witness connected with that same
    // first token is closed 1008 by the sweep that passes the expiry, the sweep that also checks
    // alice: her pong after that proves she survived it.
    const firstToken = decodeURIComponent(control.urls[0].split('token=')[1]);
    const witness = await TestClient.connect(server.wsUrl, { token: firstToken });
    await alice.client.join(room('after-refresh'));
    expect(await witness.closed(8000)).toEqual({ code: 1008, reason: 'token expired' });
    const pong = new Promise<void>((resolve) => alice.client.once('pong', () => resolve()));
    alice.client.ping();
    await pong;
    expect(alice.rec.of('close')).toEqual([]);
    expect(control.urls).toHaveLength(1);
  });
});
