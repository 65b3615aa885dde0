import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import {
  GatewayProcess,
  HandshakeRefused,
  hubEvent,
  signToken,
  startApp,
  TestClient,
  type TestApp,
  userToken,
} from '../harness/index.js';

async function refusal(p: Promise<unknown>): Promise<HandshakeRefused> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HandshakeRefused) return err;
    throw err;
  }
  throw new Error('expected the handshake to be refused');
}

describe('handshake', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ MAX_CONNECTIONS_PER_USER: '2', ALLOWED_ORIGINS: 'https://chat.example' });
  });
  afterAll(() => t.close());

  it('accepts a Bearer header and sends welcome first', async () => {
    const c = await TestClient.connect(t.wsUrl, { token: t.token('alice', { name: 'Alice' }) });
    const welcome = c.frames[0];
    expect(welcome).toMatchObject({
      type: 'welcome',
      user: { id: 'alice', name: 'Alice' },
      heartbeatMs: 30000,
      limits: { maxMessageBytes: 8192, maxContentLength: 1000, ratePerSec: 10, queueMessages: 256 },
    });
    expect(typeof welcome.session).toBe('string');
    c.close();
  });

  it('accepts ?token= and joins ?rooms=', async () => {
    const c = await TestClient.connect(`${t.wsUrl}?rooms=a,b`, { token: t.token('qt'), query: true });
    expect((await c.next('joined', 3000, (f) => f.room === 'a')).recovered).toBe(true);
    await c.next('joined', 3000, (f) => f.room === 'b');
    c.close();
  });

  it('?rooms= refusals are error frames and the connection stays', async () => {
    const c = await TestClient.connect(`${t.wsUrl}?rooms=ok,secret`, {
      token: t.token('rq', { rooms: ['ok'] }),
    });
    await c.next('joined', 3000, (f) => f.room === 'ok');
    expect((await c.next('error')).code).toBe('forbidden');
    c.send({ type: 'ping' });
    await c.next('pong');
    c.close();
  });

  it.each([
    ['no token', undefined],
    ['garbage', 'not.a.jwt'],
    ['wrong secret', signToken({ sub: 'x' }, { key: 'another-secret' })],
    ['expired', signToken({ sub: 'x', exp: Math.floor(Date.now() / 1000) - 60 })],
    ['not yet valid', signToken({ sub: 'x', nbf: Math.floor(Date.now() / 1000) + 600 })],
    ['no sub', signToken({ name: 'x' })],
    ['alg none', signToken({ sub: 'x' }, { key: '', algorithm: 'none' })],
    ['HS512 instead of HS256', signToken({ sub: 'x' }, { algorithm: 'HS512' })],
  ])('refuses %s with 401 before the upgrade', async (_name, token) => {
    const r = await refusal(TestClient.connect(t.wsUrl, { token }));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('unauthorized');
    expect(typeof r.body.message).toBe('string');
  });

  it('refuses a disallowed Origin with 403 and allows a listed one or none', async () => {
    const token = t.token('o1');
    const r = await refusal(
      TestClient.connect(t.wsUrl, { token, headers: { origin: 'https://evil.example' } }),
    );
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('forbidden_origin');
    (await TestClient.connect(t.wsUrl, { token, headers: { origin: 'https://chat.example' } })).close();
    (await TestClient.connect(t.wsUrl, { token })).close();
  });

  it('refuses a user over MAX_CONNECTIONS_PER_USER with 429, and frees the slot on close', async () => {
    const token = t.token('many');
    const a = await TestClient.connect(t.wsUrl, { token });
    const b = await TestClient.connect(t.wsUrl, { token });
    const r = await refusal(TestClient.connect(t.wsUrl, { token }));
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('too_many_connections');
    // the slot is freed when the server forgets the connection, which it announces
    const aGone = hubEvent(t.hub, 'disconnected', (e) => e.connectionId === a.frames[0].session);
    a.close();
    await a.closed();
    await aGone;
    (await TestClient.connect(t.wsUrl, { token })).close();
    b.close();
  });

  it('answers 400 with a JSON body to a malformed upgrade request', async () => {
    const token = t.token('raw');
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(t.port, '127.0.0.1', () =>
        s.write(
          'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: not-a-key\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
        ),
      );
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'bad_request',
      message: 'missing or invalid Sec-WebSocket-Key',
    });
  });

  it('answers 404 on another path', async () => {
    const r = await refusal(TestClient.connect(`ws://127.0.0.1:${t.port}/other`, { token: t.token('p') }));
    expect(r.status).toBe(404);
  });

  it('drops a request whose head does not arrive within HEADER_TIMEOUT_MS', async () => {
    const slow = await startApp({ HEADER_TIMEOUT_MS: '500' });
    try {
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const s = net.connect(slow.port, '127.0.0.1', () => s.write('GET /ws HTTP/1.1\r\nHost: x\r\n'));
        s.resume();
        s.on('close', () => resolve(Date.now() - started));
        s.on('error', () => {});
        setTimeout(() => reject(new Error('not dropped within 5 s')), 5000).unref();
      });
      expect(closedAfter).toBeGreaterThanOrEqual(400);
      expect(closedAfter).toBeLessThan(2500);
    } finally {
      await slow.close();
    }
  });
});

describe('handshake limits', () => {
  it('refuses over MAX_CONNECTIONS_PER_IP with 429 and over MAX_CONNECTIONS with 503', async () => {
    const t = await startApp({ MAX_CONNECTIONS_PER_IP: '2', MAX_CONNECTIONS: '3' });
    try {
      const a = await TestClient.connect(t.wsUrl, { token: t.token('u1') });
      const b = await TestClient.connect(t.wsUrl, { token: t.token('u2') });
      const r = await refusal(TestClient.connect(t.wsUrl, { token: t.token('u3') }));
      expect(r.status).toBe(429);
      a.close();
      b.close();
    } finally {
      await t.close();
    }
    const t2 = await startApp({ MAX_CONNECTIONS: '1' });
    try {
      const a = await TestClient.connect(t2.wsUrl, { token: t2.token('u1') });
      const r = await refusal(TestClient.connect(t2.wsUrl, { token: t2.token('u2') }));
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('server_full');
      a.close();
    } finally {
      await t2.close();
    }
  });

  it('takes the client IP from X-Forwarded-For only with TRUST_PROXY', async () => {
    for (const trust of [true, false]) {
      const t = await startApp({ MAX_CONNECTIONS_PER_IP: '1', TRUST_PROXY: String(trust) });
      try {
        const a = await TestClient.connect(t.wsUrl, {
          token: t.token('a'),
          headers: { 'x-forwarded-for': '10.0.0.1' },
        });
        const second = TestClient.connect(t.wsUrl, {
          token: t.token('b'),
          headers: { 'x-forwarded-for': '10.0.0.2' },
        });
        if (trust) (await second).close();
        else expect((await refusal(second)).status).toBe(429);
        a.close();
      } finally {
        await t.close();
      }
    }
  });

  it('verifies RS256 with JWT_PUBLIC_KEY and refuses an HS256 token signed with the public key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const t = await startApp({
      JWT_SECRET: '',
      JWT_PUBLIC_KEY: pem,
      AUTH_DEV_TOKENS: 'false',
      JWT_ISSUER: 'issuer-1',
      JWT_AUDIENCE: 'gw',
    });
    try {
      const good = signToken(
        { sub: 'rs' },
        { key: privateKey, algorithm: 'RS256', issuer: 'issuer-1', audience: 'gw' },
      );
      (await TestClient.connect(t.wsUrl, { token: good })).close();
      const confused = signToken(
        { sub: 'rs' },
        { key: pem, algorithm: 'HS256', issuer: 'issuer-1', audience: 'gw' },
      );
      expect((await refusal(TestClient.connect(t.wsUrl, { token: confused }))).status).toBe(401);
      const wrongIss = signToken(
        { sub: 'rs' },
        { key: privateKey, algorithm: 'RS256', issuer: 'other', audience: 'gw' },
      );
      expect((await refusal(TestClient.connect(t.wsUrl, { token: wrongIss }))).status).toBe(401);
      const wrongAud = signToken(
        { sub: 'rs' },
        { key: privateKey, algorithm: 'RS256', issuer: 'issuer-1', audience: 'x' },
      );
      expect((await refusal(TestClient.connect(t.wsUrl, { token: wrongAud }))).status).toBe(401);
      const res = await fetch(`${t.httpUrl}/auth/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x' }),
      });
      expect(res.status).toBe(404);
    } finally {
      await t.close();
    }
  });
});

describe('dev tokens', () => {
  it('POST /auth/dev-token issues a token that connects, and validates the name', async () => {
    const t = await startApp();
    try {
      const post = (body: unknown) =>
        fetch(`${t.httpUrl}/auth/dev-token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const res = await post({ name: 'Zoë' });
      expect(res.status).toBe(200);
      const { token } = (await res.json()) as { token: string };
      const c = await TestClient.connect(t.wsUrl, { token, query: true });
      expect(c.frames[0].user.name).toBe('Zoë');
      c.close();
      expect((await post({})).status).toBe(400);
      expect((await post({ name: 'x'.repeat(33) })).status).toBe(400);
    } finally {
      await t.close();
    }
  });
});

describe('handshake on the wire (node dist/main.js)', () => {
  let g: GatewayProcess;
  beforeAll(async () => (g = await GatewayProcess.start()));
  afterAll(() => g?.kill());

  it('sends the 101 answer and `welcome` in one write', async () => {
    // Two writes would mostly arrive as two reads here (the gateway runs in its own process).
    const first = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(g.port, '127.0.0.1', () =>
        s.write(
          'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
            `Authorization: Bearer ${userToken('wire')}\r\n\r\n`,
        ),
      );
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d);
      });
      s.on('error', reject);
    });
    const end = first.indexOf('\r\n\r\n');
    expect(first.subarray(0, end).toString()).toMatch(/^HTTP\/1\.1 101 /);
    const frame = first.subarray(end + 4);
    expect(frame.length).toBeGreaterThan(4);
    expect(frame[0]).toBe(0x81); // one unfragmented text frame, unmasked
    const [offset, length] = frame[1] === 126 ? [4, frame.readUInt16BE(2)] : [2, frame[1]];
    expect(frame.length).toBe(offset + length);
    expect(JSON.parse(frame.subarray(offset).toString())).toMatchObject({
      type: 'welcome',
      user: { id: 'wire' },
    });
  });
});
