import {
  connectAs,
  deleteKeys,
  GatewayProcess,
  get,
  HandshakeRefused,
  poll,
  post,
  serviceToken,
  SHARED_REDIS_URL,
  TestClient,
  uniquePrefix,
  userToken,
} from '../harness/index.js';

/**
 * The server API (GET /api/rooms/..., /api/users/..., POST disconnect / leave / tokens/revoke)
 * against real gateways: two instances on the shared Redis (state made on one is read and commanded
 * through the other) and one without Redis.
 */
const admin = { authorization: `Bearer ${serviceToken('ops', { scope: 'admin' })}` };
const reader = { authorization: `Bearer ${serviceToken('dash', { scope: 'read' })}` };

async function refusal(url: string, token: string): Promise<HandshakeRefused> {
  try {
    const c = await TestClient.connect(url, { token });
    c.terminate();
  } catch (err) {
    if (err instanceof HandshakeRefused) return err;
    throw err;
  }
  throw new Error('the handshake was accepted');
}

describe('server API across two instances (Redis)', () => {
  const prefix = uniquePrefix();
  const env = {
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    RATE_LIMIT_PER_SEC: '1000',
    MAX_CONNECTIONS_PER_USER: '3',
  };
  let a: GatewayProcess;
  let b: GatewayProcess;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);
  const connect = async (g: GatewayProcess, user: string, token?: string) =>
    track(token ? await TestClient.connect(g.wsUrl, { token }) : await connectAs(g.wsUrl, user));

  beforeAll(async () => {
    [a, b] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([a?.stop(), b?.stop()]);
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('reads a room made on instance A through instance B: seq, members, presence, history', async () => {
    const alice = await connect(a, 'alice');
    const bob = await connect(b, 'bob');
    await alice.join('lobby');
    await bob.join('lobby');
    for (let i = 1; i <= 3; i++) await alice.say('lobby', `m${i}`, `m${i}`);

    const room = await get(`${b.httpUrl}/api/rooms/lobby`, reader);
    expect(room.status).toBe(200);
    expect(room.body).toEqual({ room: 'lobby', epoch: expect.any(String), seq: 3, oldestSeq: 1, members: 2 });

    const presence = await get(`${b.httpUrl}/api/rooms/lobby/presence`, reader);
    expect(presence.status).toBe(200);
    expect(presence.body.room).toBe('lobby');
    expect(presence.body.members.map((m: { id: string }) => m.id).sort()).toEqual(['alice', 'bob']);

    const all = await get(`${b.httpUrl}/api/rooms/lobby/history`, reader);
    expect(all.body).toMatchObject({ room: 'lobby', epoch: room.body.epoch, recovered: true, oldestSeq: 1 });
    expect(all.body.messages.map((m: { content: string }) => m.content)).toEqual(['m1', 'm2', 'm3']);
    const after = await get(`${b.httpUrl}/api/rooms/lobby/history?since=1&limit=1`, reader);
    expect(after.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2]);
    const last = await get(`${b.httpUrl}/api/rooms/lobby/history?limit=1`, reader);
    expect(last.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3]);
  });

  it('reads a user connected to both instances, cluster-wide, and sees the user leave', async () => {
    const onA = await connect(a, 'carol');
    const onB = await connect(b, 'carol');
    await onA.join('r1');
    await onB.join('r2');
    await poll(
      async () => {
        const u = await get(`${a.httpUrl}/api/users/carol`, reader);
        return u.body.connections === 2 && u.body.rooms.join() === 'r1,r2';
      },
      5000,
      'carol on both instances in r1 and r2',
    );
    expect((await get(`${b.httpUrl}/api/users/carol`, reader)).body).toEqual({
      id: 'carol',
      online: true,
      connections: 2,
      rooms: ['r1', 'r2'],
    });
    await onA.closeAndWait();
    await onB.closeAndWait();
    await poll(
      async () => (await get(`${b.httpUrl}/api/users/carol`, reader)).body.online === false,
      5000,
      'offline',
    );
    expect((await get(`${a.httpUrl}/api/users/carol`, reader)).body).toEqual({
      id: 'carol',
      online: false,
      connections: 0,
      rooms: [],
    });
  });

  it('disconnects every connection of a user on every instance', async () => {
    const onA = await connect(a, 'dan');
    const onB = await connect(b, 'dan');
    const other = await connect(a, 'erin');
    const res = await post(`${b.httpUrl}/api/users/dan/disconnect`, { code: 4003, reason: 'banned' }, admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 'dan', connections: 2 });
    expect(await onA.closed()).toEqual({ code: 4003, reason: 'banned' });
    expect(await onB.closed()).toEqual({ code: 4003, reason: 'banned' });
    await other.roundTrip();
    expect(other.closeEvent).toBeNull();

    const again = await connect(a, 'dan');
    expect((await post(`${a.httpUrl}/api/users/dan/disconnect`, {}, admin)).status).toBe(200);
    expect(await again.closed()).toEqual({ code: 4000, reason: 'disconnected' });
  });

  it('takes a user out of a room on every instance', async () => {
    const onA = await connect(a, 'finn');
    const onB = await connect(b, 'finn');
    const talker = await connect(b, 'gus');
    for (const c of [onA, onB, talker]) {
      await c.join('stage');
      await c.join('side');
    }
    const res = await post(`${a.httpUrl}/api/users/finn/rooms/stage/leave`, {}, admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 'finn', room: 'stage' });
    for (const c of [onA, onB])
      expect(await c.next('left')).toEqual({ type: 'left', room: 'stage', reason: 'removed' });
    // No more deliveries: a message to "stage", then one to "side" (same Redis connection, so in
    // that order on every instance): once the second arrives, the first would have.
    await talker.say('stage', 'after', 'after-1');
    await talker.say('side', 'marker', 'marker-1');
    for (const c of [onA, onB]) await c.find((f) => f.type === 'message' && f.id === 'marker-1', 'marker');
    expect([...onA.all('message'), ...onB.all('message')].filter((m) => m.room === 'stage')).toEqual([]);
    await poll(
      async () => (await get(`${b.httpUrl}/api/users/finn`, reader)).body.rooms.join() === 'side',
      5000,
      'finn only in side',
    );
  });

  it("revokes a user's tokens: live connections close 4001 on both instances, handshake and auth refuse them", async () => {
    const old = userToken('hana');
    const onA = await connect(a, 'hana', old);
    const onB = await connect(b, 'hana', old);
    const until = Math.floor(Date.now() / 1000) + 1;
    const res = await post(`${a.httpUrl}/api/tokens/revoke`, { sub: 'hana', until }, admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: 'hana', until });
    const started = Date.now();
    expect(await onA.closed(1000)).toEqual({ code: 4001, reason: 'token revoked' });
    expect(await onB.closed(1000)).toEqual({ code: 4001, reason: 'token revoked' });
    expect(Date.now() - started).toBeLessThan(1000);

    for (const g of [a, b]) {
      const refused = await refusal(g.wsUrl, old);
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ error: 'unauthorized', message: 'token revoked' });
    }
    // A token issued at or after `until` is not covered; `auth` with the revoked one is refused.
    const fresh = await connect(b, 'hana', userToken('hana', { iat: until }));
    fresh.send({ type: 'auth', token: old });
    expect(await fresh.next('error')).toMatchObject({ code: 'unauthorized', message: 'token revoked' });
    expect(fresh.closeEvent).toBeNull();
  });

  it("revokes one token by jti on every instance; the user's other tokens keep working", async () => {
    const until = Math.floor(Date.now() / 1000) + 3600;
    const stolen = userToken('ivan', { jti: 'stolen-1' });
    const onA = await connect(a, 'ivan', stolen);
    const onB = await connect(b, 'ivan', stolen);
    const other = await connect(a, 'ivan', userToken('ivan', { jti: 'other-1' }));
    expect((await post(`${b.httpUrl}/api/tokens/revoke`, { jti: 'stolen-1', until }, admin)).status).toBe(
      200,
    );
    expect(await onA.closed(1000)).toEqual({ code: 4001, reason: 'token revoked' });
    expect(await onB.closed(1000)).toEqual({ code: 4001, reason: 'token revoked' });
    await other.roundTrip();
    expect(other.closeEvent).toBeNull();
    expect((await refusal(a.wsUrl, stolen)).status).toBe(401);
    expect((await refusal(b.wsUrl, stolen)).status).toBe(401);
  });

  it('holds MAX_CONNECTIONS_PER_USER=3 across both instances', async () => {
    const first = await connect(a, 'judy');
    await connect(b, 'judy');
    await connect(a, 'judy');
    for (const g of [a, b]) {
      const refused = await refusal(g.wsUrl, userToken('judy'));
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('too_many_connections');
    }
    await first.closeAndWait();
    // The freed lease is released asynchronously: the next attempt gets in once it is gone.
    let fourth: TestClient | undefined;
    await poll(
      async () => {
        try {
          fourth = await connect(b, 'judy');
          return true;
        } catch (err) {
          if (err instanceof HandshakeRefused && err.status === 429) return false;
          throw err;
        }
      },
      5000,
      'a slot for judy',
    );
    expect(fourth).toBeDefined();
  });

  it('answers bad requests and missing rights like the push API', async () => {
    expect((await get(`${a.httpUrl}/api/rooms/lobby`)).status).toBe(401);
    const publishOnly = { authorization: `Bearer ${serviceToken('billing')}` };
    const forbidden = await get(`${a.httpUrl}/api/rooms/lobby`, publishOnly);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('forbidden');
    expect((await post(`${a.httpUrl}/api/users/x/disconnect`, {}, reader)).status).toBe(403);
    const badRoom = await get(`${a.httpUrl}/api/rooms/no%20spaces`, reader);
    expect(badRoom.status).toBe(400);
    expect(badRoom.body).toMatchObject({ error: 'bad_request', details: [{ field: 'room' }] });
    const badQuery = await get(`${a.httpUrl}/api/rooms/lobby/history?since=x`, reader);
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.details[0].field).toBe('since');
    const badCode = await post(`${a.httpUrl}/api/users/x/disconnect`, { code: 1000 }, admin);
    expect(badCode.status).toBe(400);
    expect(badCode.body.details[0].field).toBe('code');
    const noTarget = await post(`${a.httpUrl}/api/tokens/revoke`, { until: 1 }, admin);
    expect(noTarget.status).toBe(400);
    expect(noTarget.body.details[0].field).toBe('sub');
  });
});

describe('server API on one instance without Redis', () => {
  let g: GatewayProcess;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(async () => {
    g = await GatewayProcess.start({ env: { MAX_CONNECTIONS_PER_USER: '2', RATE_LIMIT_PER_SEC: '1000' } });
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await g?.stop();
  });

  it('reads rooms and users, and carries out disconnect, leave and revoke on this instance', async () => {
    const kim = track(await connectAs(g.wsUrl, 'kim'));
    const kim2 = track(await connectAs(g.wsUrl, 'kim'));
    await kim.join('hall');
    await kim2.join('hall');
    await kim.say('hall', 'hello', 'h1');
    expect((await get(`${g.httpUrl}/api/rooms/hall`, reader)).body).toMatchObject({
      room: 'hall',
      seq: 1,
      members: 1,
    });
    expect((await get(`${g.httpUrl}/api/rooms/hall/presence`, reader)).body).toEqual({
      room: 'hall',
      members: [{ id: 'kim', name: 'kim' }],
    });
    expect((await get(`${g.httpUrl}/api/rooms/hall/history`, reader)).body.messages).toHaveLength(1);
    await poll(async () => (await get(`${g.httpUrl}/api/users/kim`, reader)).body.rooms.join() === 'hall');
    expect((await get(`${g.httpUrl}/api/users/kim`, reader)).body).toEqual({
      id: 'kim',
      online: true,
      connections: 2,
      rooms: ['hall'],
    });
    expect((await refusal(g.wsUrl, userToken('kim'))).status).toBe(429);

    expect((await post(`${g.httpUrl}/api/users/kim/rooms/hall/leave`, {}, admin)).status).toBe(200);
    expect(await kim.next('left')).toEqual({ type: 'left', room: 'hall', reason: 'removed' });
    expect(await kim2.next('left')).toEqual({ type: 'left', room: 'hall', reason: 'removed' });

    expect((await post(`${g.httpUrl}/api/users/kim/disconnect`, { reason: 'bye' }, admin)).status).toBe(200);
    expect(await kim.closed()).toEqual({ code: 4000, reason: 'bye' });
    expect(await kim2.closed()).toEqual({ code: 4000, reason: 'bye' });

    const token = userToken('lee', { jti: 'lee-1' });
    const lee = track(await TestClient.connect(g.wsUrl, { token }));
    const until = Math.floor(Date.now() / 1000) + 3600;
    expect((await post(`${g.httpUrl}/api/tokens/revoke`, { jti: 'lee-1', until }, admin)).status).toBe(200);
    expect(await lee.closed(1000)).toEqual({ code: 4001, reason: 'token revoked' });
    expect((await refusal(g.wsUrl, token)).status).toBe(401);
  });
});
