import {
  deleteKeys,
  type Frame,
  GatewayProcess,
  post,
  PrivateRedis,
  serviceToken,
  SHARED_REDIS_URL,
  TestClient,
  uniquePrefix,
  userToken,
} from '../harness/index.js';

/** The answer (ack or error) to a `message` with this id sent now. */
function send(sender: TestClient, room: string, content: string, id: string): Promise<Frame> {
  const from = sender.frames.length;
  sender.send({ type: 'message', room, content, id });
  return sender.find(
    (f) => (f.type === 'ack' && f.id === id) || (f.type === 'error' && f.ref === id),
    `the answer to ${id} in ${room}`,
    5000,
    from,
  );
}

/** What `watcher` received in `rooms` before the marker each room got after the event under test. */
async function deliveredBeforeMarkers(
  sender: TestClient,
  watcher: TestClient,
  rooms: string[],
): Promise<string[]> {
  const out: string[] = [];
  for (const room of rooms) {
    const marker = `marker-${room}-${sender.frames.length}`;
    await sender.say(room, 'marker', marker);
    await watcher.find((f) => f.type === 'message' && f.id === marker, `${marker} at the watcher`);
    out.push(
      ...watcher
        .allBefore('message', (f: Frame) => f.id === marker)
        .filter((f) => f.room === room && !String(f.id).startsWith('marker-'))
        .map((f) => `${f.room}#${f.seq}:${f.content}`),
    );
  }
  return out.sort();
}

/**
 * A sender's message id is used once within DEDUP_WINDOW_MS, whichever room, in memory and Redis
 * mode alike: reusing it in another room delivers nothing there and is acked with the original room
 * and seq; a retry in the first room is acked with the original seq and not delivered again.
 */
describe.each([
  ['memory', false],
  ['redis', true],
])('message id dedup across rooms (%s mode)', (_mode, redis) => {
  const prefix = uniquePrefix();
  let gw: GatewayProcess;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    gw = await GatewayProcess.start({
      env: redis ? { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {},
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    if (redis) await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  const connect = async (user: string, rooms: string[]): Promise<TestClient> => {
    const c = await TestClient.connect(gw.wsUrl, { token: userToken(user) });
    clients.push(c);
    for (const room of rooms) await c.join(room);
    return c;
  };

  it('does not deliver an id reused in another room, and acks it with the original', async () => {
    const sender = await connect('writer', ['room-a', 'room-b']);
    const watcher = await connect('watcher', ['room-a', 'room-b']);

    const first = await send(sender, 'room-a', 'hello a', 'dup-1');
    const other = await send(sender, 'room-b', 'hello b', 'dup-1');
    const retry = await send(sender, 'room-a', 'hello a', 'dup-1');
    const retryB = await send(sender, 'room-b', 'hello b', 'dup-1');

    expect(first).toEqual({ type: 'ack', id: 'dup-1', room: 'room-a', seq: 1 });
    expect(other).toEqual(first);
    expect(retry).toEqual(first);
    expect(retryB).toEqual(first);
    // Another sender's identical id is its own.
    const stranger = await connect('stranger', ['room-b']);
    expect(await send(stranger, 'room-b', 'mine', 'dup-1')).toEqual({
      type: 'ack',
      id: 'dup-1',
      room: 'room-b',
      seq: 1,
    });

    expect(await deliveredBeforeMarkers(sender, watcher, ['room-a', 'room-b'])).toEqual([
      'room-a#1:hello a',
      'room-b#1:mine',
    ]);
  });

  it('acks a retry after a lost reply with the original seq, delivered once', async () => {
    const watcher = await connect('watcher2', ['room-c', 'room-d']);
    const gone = await connect('writer2', ['room-c']);
    // The reply is lost with the connection: the sender cannot know whether it was published.
    gone.send({ type: 'message', room: 'room-c', content: 'once', id: 'lost-1' });
    gone.terminate();
    const sender = await connect('writer2', ['room-c', 'room-d']);
    const retry = await send(sender, 'room-c', 'once', 'lost-1');
    expect(retry).toEqual({ type: 'ack', id: 'lost-1', room: 'room-c', seq: 1 });
    expect(await send(sender, 'room-d', 'once', 'lost-1')).toEqual(retry);
    expect(await deliveredBeforeMarkers(sender, watcher, ['room-c', 'room-d'])).toEqual(['room-c#1:once']);
  });

  it('answers a push whose Idempotency-Key was used in another room with the original, delivering nothing', async () => {
    const watcher = await connect('watcher3', ['push-a', 'push-b']);
    const sender = await connect('writer3', ['push-a', 'push-b']);
    const headers = { authorization: `Bearer ${serviceToken('billing')}`, 'idempotency-key': 'push-1' };
    const url = `${gw.httpUrl}/api/publish`;
    const first = await post(url, { room: 'push-a', content: 'once' }, headers);
    expect(first).toMatchObject({ status: 202, body: { id: 'push-1', seq: 1 } });
    const other = await post(url, { room: 'push-b', content: 'once' }, headers);
    expect(other).toMatchObject({ status: 202, body: { id: 'push-1', seq: 1, room: 'push-a' } });
    expect(await deliveredBeforeMarkers(sender, watcher, ['push-a', 'push-b'])).toEqual(['push-a#1:once']);
  });
});

/**
 * A publish that fails (Redis down) gives the id back: once Redis is back, a retry with the same id
 * is delivered, exactly once.
 */
describe('message id dedup while Redis is down', () => {
  const redis = new PrivateRedis(true);
  let gw: GatewayProcess | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    await redis.start();
    gw = await GatewayProcess.start({
      env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500', ERROR_LIMIT: '100' },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.kill();
    await redis.dispose();
  });

  it('answers unavailable, then publishes a retry with the same id once Redis is back', async () => {
    const sender = await TestClient.connect(gw!.wsUrl, { token: userToken('writer') });
    clients.push(sender);
    await sender.join('down');
    await sender.say('down', 'before', 'before-1');

    await redis.stop();
    const refused = await send(sender, 'down', 'payload', 'down-1');
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable', ref: 'down-1' });

    await redis.start();
    let answer = refused;
    const deadline = Date.now() + 20_000;
    while (answer.type !== 'ack' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await send(sender, 'down', 'payload', 'down-1');
    }
    expect(answer).toMatchObject({ type: 'ack', id: 'down-1', room: 'down' });
    // The same id in another room afterwards is the duplicate of this one.
    await sender.join('elsewhere');
    expect(await send(sender, 'elsewhere', 'payload', 'down-1')).toEqual(answer);

    const reader = await TestClient.connect(gw!.wsUrl, { token: userToken('reader') });
    clients.push(reader);
    await reader.join('down', { since: 0 });
    await reader.join('elsewhere', { since: 0 });
    await reader.roundTrip();
    expect(reader.all('message').map((f) => `${f.room}:${f.id}`)).toEqual(['down:before-1', 'down:down-1']);
  }, 60_000);
});
