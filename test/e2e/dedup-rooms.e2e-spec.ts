import {
  deleteKeys,
  type Frame,
  GatewayProcess,
  SHARED_REDIS_URL,
  TestClient,
  uniquePrefix,
  userToken,
} from '../harness/index.js';

/**
 * A sender's message id is deduplicated the same way in memory and in Redis mode: per room. Reusing
 * an id in another room publishes there; a retry in the first room is still answered with the first
 * room's seq and is not delivered again (memory mode once kept one entry per id and forgot the first
 * room, so the retry was delivered a second time).
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

  it('answers a retry in the first room with its seq after the id was used in another room', async () => {
    const sender = await TestClient.connect(gw.wsUrl, { token: userToken('writer') });
    const watcher = await TestClient.connect(gw.wsUrl, { token: userToken('watcher') });
    clients.push(sender, watcher);
    for (const c of [sender, watcher]) {
      await c.join('room-a');
      await c.join('room-b');
    }
    // The answer to this send (ack or error): the same id is answered several times.
    const send = (room: string, content: string): Promise<Frame> => {
      const from = sender.frames.length;
      sender.send({ type: 'message', room, content, id: 'dup-1' });
      return sender.find(
        (f) => (f.type === 'ack' || f.type === 'error') && (f.id === 'dup-1' || f.ref === 'dup-1'),
        `the answer in ${room}`,
        5000,
        from,
      );
    };
    const first = await send('room-a', 'hello a');
    const other = await send('room-b', 'hello b');
    const retry = await send('room-a', 'hello a');
    const retryB = await send('room-b', 'hello b');

    expect(first).toEqual({ type: 'ack', id: 'dup-1', room: 'room-a', seq: 1 });
    expect(other).toEqual({ type: 'ack', id: 'dup-1', room: 'room-b', seq: 1 });
    expect(retry).toEqual(first);
    expect(retryB).toEqual(other);

    // Rooms are delivered in order: a second copy in room-a would come before this marker.
    await sender.say('room-a', 'marker', 'marker-a');
    const delivered = watcher
      .allBefore('message', (f: Frame) => f.id === 'marker-a')
      .map((f) => `${f.room}#${f.seq}:${f.content}`);
    expect(delivered.sort()).toEqual(['room-a#1:hello a', 'room-b#1:hello b']);
  });
});
