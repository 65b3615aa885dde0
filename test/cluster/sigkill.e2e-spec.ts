import {
  connectAs as connect,
  deleteKeys,
  GatewayProcess,
  join as joinRoom,
  range,
  seqs,
  SHARED_REDIS_URL,
  type TestClient,
  uniquePrefix,
} from '../harness/index.js';

/**
 * Gateways as child processes (`node dist/main.js`, built by `npm run build`): one is killed with
 * SIGKILL. Its members reconnect to another instance, resume with `since` and lose nothing; its
 * presence entries expire within PRESENCE_TTL_MS and the others are told who left.
 */
describe('an instance killed with SIGKILL', () => {
  const prefix = uniquePrefix();
  const env = {
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    PRESENCE_TTL_MS: '1500',
    AUTH_DEV_TOKENS: 'false',
    RATE_LIMIT_PER_SEC: '1000',
  };
  let x: GatewayProcess;
  let y: GatewayProcess;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(async () => {
    [x, y] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([x?.kill(), y?.kill()]);
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('its members reconnect elsewhere and lose nothing; its presence vanishes within the TTL', async () => {
    const victim = track(await connect(x.wsUrl, 'vic'));
    const ghost = track(await connect(x.wsUrl, 'ghost'));
    const observer = track(await connect(y.wsUrl, 'obs'));
    const sender = track(await connect(y.wsUrl, 'snd'));
    const first = await joinRoom(victim, 'k');
    await joinRoom(ghost, 'k');
    await joinRoom(sender, 'k');
    expect((await joinRoom(observer, 'k')).members.map((m: { id: string }) => m.id).sort()).toEqual([
      'ghost',
      'obs',
      'snd',
      'vic',
    ]);
    const send = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        sender.send({ type: 'message', room: 'k', content: `m${i}`, id: `m${i}` });
        expect(await sender.next('ack', 3000, (f) => f.id === `m${i}`)).toMatchObject({ seq: i });
      }
    };
    await send(1, 10);
    await victim.waitFor('message', 10);

    await x.kill('SIGKILL');
    expect((await victim.closed()).code).toBe(1006);
    await ghost.closed();
    await send(11, 20); // while the victim is away

    const last = seqs(victim, 'k').at(-1)!;
    const back = track(await connect(y.wsUrl, 'vic'));
    const joined = await joinRoom(back, 'k', { since: last, epoch: first.epoch });
    expect(joined).toMatchObject({ recovered: true, seq: 20, epoch: first.epoch });
    await send(21, 25);
    await back.waitFor('message', 25 - last);
    const all = [...seqs(victim, 'k'), ...seqs(back, 'k')];
    expect(all).toEqual(range(1, 25)); // nothing lost, nothing twice
    await observer.waitFor('message', 25);
    expect(seqs(observer, 'k')).toEqual(range(1, 25));

    // The ghost's entry was only on the dead instance: it expires and the room is told.
    const left = await observer.next('presence', 6000, (f) => f.status === 'left');
    expect(left).toMatchObject({ room: 'k', user: { id: 'ghost' }, status: 'left' });
    // The victim came back on another instance: still a member, no `left` for it.
    const members = await joinRoom(track(await connect(y.wsUrl, 'late')), 'k');
    expect(members.members.map((m: { id: string }) => m.id).sort()).toEqual(['late', 'obs', 'snd', 'vic']);
    expect(observer.all('presence').filter((f) => f.user.id === 'vic' && f.status === 'left')).toEqual([]);
  }, 30000);
});
