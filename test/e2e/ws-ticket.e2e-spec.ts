// WebSocket tickets (POST /api/ws-ticket, then GET /ws?ticket=...) against the built server: one
// use, expiry, the bearer check, the claims carried over, the rate limit, a ticket from one instance
// redeemed on another over the shared Redis, the typed client's choice of ?ticket= and its fallback
// to ?token=, and no token or ticket in any log line.

import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { GatewayClient } from '../../src/client/gateway-client.js';
import {
  deleteKeys,
  GatewayProcess,
  HandshakeRefused,
  instrumentedWebSocket,
  freePort,
  SHARED_REDIS_URL,
  TestClient,
  uniquePrefix,
  userToken,
} from '../harness/index.js';

jest.setTimeout(60_000);

interface TicketAnswer {
  status: number;
  body: any;
  headers: Headers;
}

async function requestTicket(gw: GatewayProcess, authorization?: string): Promise<TicketAnswer> {
  const res = await fetch(`${gw.httpUrl}/api/ws-ticket`, {
    method: 'POST',
    headers: authorization === undefined ? {} : { authorization },
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body, headers: res.headers };
}

async function ticketFor(gw: GatewayProcess, token: string): Promise<string> {
  const answer = await requestTicket(gw, `Bearer ${token}`);
  expect(answer.status).toBe(200);
  return answer.body.ticket as string;
}

function withTicket(gw: GatewayProcess, ticket: string): Promise<TestClient> {
  return TestClient.connect(`${gw.wsUrl}?ticket=${encodeURIComponent(ticket)}`);
}

async function refusal(connecting: Promise<TestClient>): Promise<HandshakeRefused> {
  const err = await connecting.then(
    (c) => {
      c.close();
      throw new Error('the handshake was accepted');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandshakeRefused);
  return err as HandshakeRefused;
}

/** Every secret a test handed to the gateway: none may appear in its output. */
const secrets: string[] = [];
const clients: TestClient[] = [];
function track<T extends string>(s: T): T {
  secrets.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndWait()));
});

function expectNoSecretIn(gw: GatewayProcess): void {
  const log = gw.log();
  expect(log.length).toBeGreaterThan(0);
  const leaked = secrets.filter((s) => log.includes(s) || log.includes(encodeURIComponent(s)));
  expect(leaked).toEqual([]);
  // A JWT's header segment, whatever token it is.
  expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
}

describe('POST /api/ws-ticket and /ws?ticket= (memory mode)', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    // Debug logging: every log line the gateway can write is checked for secrets below.
    gw = await GatewayProcess.start({ env: { LOG_LEVEL: 'debug', WS_TICKET_TTL_SEC: '1' } });
  });
  afterAll(async () => {
    await gw?.stop();
    expectNoSecretIn(gw);
  });

  it('refuses a missing, malformed or invalid bearer with 401', async () => {
    const none = await requestTicket(gw);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: 'unauthorized' });
    expect((await requestTicket(gw, 'Basic abc')).status).toBe(401);
    const forged = track(userToken('mallory', {}, { key: 'another-secret-of-sufficient-length-0123456789' }));
    const bad = await requestTicket(gw, `Bearer ${forged}`);
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({
      error: 'unauthorized',
      message: expect.stringContaining('invalid token'),
    });
    const expired = track(userToken('old', { exp: Math.floor(Date.now() / 1000) - 60 }));
    expect((await requestTicket(gw, `Bearer ${expired}`)).body).toMatchObject({
      error: 'unauthorized',
      message: 'token expired',
    });
  });

  it('issues an opaque ticket that opens one connection as the token would, once', async () => {
    const token = track(userToken('alice', { rooms: ['team:*'] }));
    const answer = await requestTicket(gw, `Bearer ${token}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresIn: 1 });
    const ticket = track(answer.body.ticket as string);
    expect(ticket).not.toContain(token.split('.')[1].slice(0, 10));

    const alice = await withTicket(gw, ticket);
    clients.push(alice);
    expect(alice.frames[0]).toMatchObject({ type: 'welcome', user: { id: 'alice', name: 'alice' } });
    // The token's rooms claim came with the ticket.
    alice.send({ type: 'join', room: 'team:red' });
    await alice.next('joined', 3000, (f) => f.room === 'team:red');
    alice.send({ type: 'join', room: 'lobby' });
    expect(await alice.next('error')).toMatchObject({ code: 'forbidden' });

    const again = await refusal(withTicket(gw, ticket));
    expect(again.status).toBe(401);
    expect(again.body).toEqual({
      error: 'unauthorized',
      message: 'invalid ticket: unknown, used or expired',
    });
  });

  it('refuses an unknown or malformed ticket with 401', async () => {
    const unknown = track('A'.repeat(43));
    expect((await refusal(withTicket(gw, unknown))).status).toBe(401);
    expect((await refusal(withTicket(gw, 'short'))).status).toBe(401);
  });

  it('refuses a ticket after its lifetime (WS_TICKET_TTL_SEC=1)', async () => {
    const ticket = track(await ticketFor(gw, track(userToken('late'))));
    // The lifetime itself is what is tested: nothing announces that a second has passed.
    await new Promise((r) => setTimeout(r, 1200));
    expect((await refusal(withTicket(gw, ticket))).status).toBe(401);
  });

  it('an Authorization header wins over ?ticket= (the ticket stays unused)', async () => {
    const token = track(userToken('carol'));
    const ticket = track(await ticketFor(gw, token));
    const ws = new WebSocket(`${gw.wsUrl}?ticket=${ticket}`, {
      headers: { authorization: `Bearer ${track(userToken('dave'))}` },
    });
    const welcome = await new Promise<any>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse((d as Buffer).toString())));
      ws.once('error', reject);
    });
    expect(welcome).toMatchObject({ type: 'welcome', user: { id: 'dave' } });
    ws.close();
    const carol = await withTicket(gw, ticket);
    clients.push(carol);
    expect(carol.frames[0]).toMatchObject({ user: { id: 'carol' } });
  });

  it('rate-limits the endpoint per user: 429 with Retry-After', async () => {
    const token = track(userToken('eager'));
    const answers: number[] = [];
    for (let i = 0; i < 30; i++) answers.push((await requestTicket(gw, `Bearer ${token}`)).status);
    expect(answers).toEqual(Array(30).fill(200));
    const limited = await requestTicket(gw, `Bearer ${token}`);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another user is not affected.
    expect((await requestTicket(gw, `Bearer ${track(userToken('patient'))}`)).status).toBe(200);
  });

  it('the typed client uses ?ticket= by default, never ?token=', async () => {
    const token = track(userToken('typed'));
    const { Impl, control } = instrumentedWebSocket(await freePort());
    const client = new GatewayClient({ url: gw.wsUrl, token, WebSocketImpl: Impl, reconnect: false });
    try {
      const welcome = await client.connect();
      expect(welcome.user.id).toBe('typed');
      expect(control.urls).toHaveLength(1);
      expect(control.urls[0]).toMatch(/\/ws\?ticket=[A-Za-z0-9_-]{43}$/);
      expect(control.urls[0]).not.toContain('token=');
      secrets.push(new URL(control.urls[0]).searchParams.get('ticket')!);
    } finally {
      await client.close();
    }
  });

  it('the typed client falls back to ?token= when the server has no ticket endpoint (404)', async () => {
    const token = track(userToken('legacy'));
    const { Impl, control } = instrumentedWebSocket(await freePort());
    const client = new GatewayClient({
      url: gw.wsUrl,
      ticketUrl: `${gw.httpUrl}/api/no-such-endpoint`,
      token,
      WebSocketImpl: Impl,
      reconnect: false,
    });
    try {
      await client.connect();
      expect(control.urls).toEqual([`${gw.wsUrl}?token=${encodeURIComponent(token)}`]);
    } finally {
      await client.close();
    }
  });

  it('the typed client asks for a new token when the ticket endpoint refuses its token (401)', async () => {
    const fresh = track(userToken('renew'));
    const reasons: string[] = [];
    const { Impl, control } = instrumentedWebSocket(await freePort());
    const client = new GatewayClient({
      url: gw.wsUrl,
      token: 'not-a-valid-jwt',
      getToken: (reason) => {
        reasons.push(reason);
        return fresh;
      },
      WebSocketImpl: Impl,
      reconnect: { minMs: 10, maxMs: 20 },
    });
    try {
      await client.connect();
      expect(reasons).toEqual(['unauthorized']);
      // The refused token never went into a URL: the only socket used the fresh token's ticket.
      expect(control.urls).toHaveLength(1);
      expect(control.urls[0]).toContain('?ticket=');
    } finally {
      await client.close();
    }
  });
});

describe('tickets across instances (Redis)', () => {
  const prefix = uniquePrefix();
  let a: GatewayProcess;
  let b: GatewayProcess;
  let redis: Redis;

  beforeAll(async () => {
    const env = { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'debug' };
    [a, b] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
    redis = new Redis(SHARED_REDIS_URL, { protocol: 2 });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    redis?.disconnect();
    await deleteKeys(SHARED_REDIS_URL, prefix);
    expectNoSecretIn(a);
    expectNoSecretIn(b);
  });

  it('a ticket from A opens a connection on B, once; Redis never holds the ticket itself', async () => {
    const answer = await requestTicket(a, `Bearer ${track(userToken('roamer'))}`);
    expect(answer.status).toBe(200);
    expect(answer.body.expiresIn).toBe(30);
    const ticket = track(answer.body.ticket as string);

    const keys = await redis.keys(`${prefix}ticket:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(ticket);
    const ttl = await redis.pttl(keys[0]);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);

    const onB = await withTicket(b, ticket);
    clients.push(onB);
    expect(onB.frames[0]).toMatchObject({ type: 'welcome', user: { id: 'roamer' } });
    expect(await redis.keys(`${prefix}ticket:*`)).toEqual([]);
    expect((await refusal(withTicket(a, ticket))).status).toBe(401);
    expect((await refusal(withTicket(b, ticket))).status).toBe(401);
  });

  it('two handshakes racing with one ticket: exactly one is accepted', async () => {
    const ticket = track(await ticketFor(a, track(userToken('racer'))));
    const results = await Promise.allSettled([withTicket(a, ticket), withTicket(b, ticket)]);
    const accepted = results.filter((r) => r.status === 'fulfilled');
    for (const r of accepted) clients.push(r.value);
    expect(accepted).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((refused.reason as HandshakeRefused).status).toBe(401);
  });
});
