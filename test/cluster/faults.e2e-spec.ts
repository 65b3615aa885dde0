import {
  Cluster,
  Conditions,
  connectAs as connect,
  deleteKeys,
  join as joinRoom,
  poll,
  PrivateRedis,
  range,
  seqs,
  type TestClient,
} from '../harness/index.js';

/**
 * Redis faults, against a redis-server of our own (a free port, its own directory, stopped by PID):
 * while it is down, `message` gets `unavailable`, connections stay open and readiness is off; when it
 * is back every instance recovers by itself. Nothing acked is lost, nothing is delivered twice.
 */

/** A client that sends numbered messages and retries each with the same id until it is acked. */
class ReliableSender {
  readonly acked = new Map<string, number>();
  unavailable = 0;

  constructor(
    private readonly c: TestClient,
    private readonly room: string,
    /** Poked on every ack (for waits on the progress of several senders). */
    private readonly progress = new Conditions(),
  ) {}

  /** Sends `id` until acked; returns its seq. */
  async send(id: string, deadlineMs = 20000): Promise<number> {
    const ack = await this.c.sayUntilAcked(this.room, id, {
      deadlineMs,
      onUnavailable: () => this.unavailable++,
    });
    this.acked.set(id, ack.seq as number);
    this.progress.poke();
    return ack.seq as number;
  }

  get client(): TestClient {
    return this.c;
  }
}

/** Every message a member received, in order, without duplicates, and every acked id among them. */
function expectExactlyOnce(member: TestClient, room: string, acked: Map<string, number>): void {
  const got = member.all('message').filter((f) => f.room === room);
  const ids = got.map((f) => f.id as string);
  expect(new Set(ids).size).toBe(ids.length); // nothing delivered twice
  for (const id of acked.keys()) expect(ids).toContain(id); // nothing acked lost
}

describe('Redis down and back (persistent Redis: AOF, fsync always)', () => {
  const redis = new PrivateRedis(true);
  let cluster: Cluster;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(() => redis.start());
  afterAll(() => redis.dispose());
  beforeEach(() => {
    cluster = new Cluster(redis.url);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    if (!(await redisUp(redis))) await redis.start();
    await cluster.close();
  });

  it('answers `unavailable` while Redis is down, keeps connections open, and recovers without a restart', async () => {
    const [a, b] = await cluster.start(2, { REDIS_COMMAND_TIMEOUT_MS: '500' });
    const sam = track(await connect(a.wsUrl, 'sam'));
    const ria = track(await connect(b.wsUrl, 'ria'));
    await joinRoom(sam, 'ops');
    const riaJoined = await joinRoom(ria, 'ops');
    const sender = new ReliableSender(sam, 'ops');
    await sender.send('before-1');
    await ria.waitFor('message', 1);

    await redis.stop();
    await poll(() => !a.hub.isHealthy() && !b.hub.isHealthy(), 5000, 'instances unready');
    const started = Date.now();
    sam.send({ type: 'message', room: 'ops', content: 'x', id: 'during-1' });
    expect(await sam.next('error', 3000, (f) => f.ref === 'during-1')).toMatchObject({ code: 'unavailable' });
    expect(Date.now() - started).toBeLessThan(1500);
    sam.send({ type: 'direct', to: 'ria', content: 'x', id: 'dm-1' });
    expect(await sam.next('error', 3000, (f) => f.ref === 'dm-1')).toMatchObject({ code: 'unavailable' });
    sam.send({ type: 'ping', id: 'p' });
    await sam.next('pong'); // still open and usable
    const ready = await fetch(`${a.httpUrl}/readyz`);
    if (ready.status !== 404) expect(ready.status).toBe(503);

    await redis.start();
    await poll(() => a.hub.isHealthy() && b.hub.isHealthy(), 10000, 'instances ready again');
    await sender.send('during-1'); // the client's retry, same id
    await sender.send('after-1');
    await ria.waitFor('message', 3);
    expect(seqs(ria, 'ops')).toEqual([1, 2, 3]);
    expectExactlyOnce(ria, 'ops', sender.acked);
    expect(sam.closeEvent).toBeNull();
    expect(ria.closeEvent).toBeNull();
    // Resume after the restart still works: the history survived (same epoch).
    const late = track(await connect(a.wsUrl, 'late'));
    const joined = await joinRoom(late, 'ops', { since: 0, epoch: riaJoined.epoch });
    expect(joined).toMatchObject({ recovered: true, seq: 3, epoch: riaJoined.epoch });
    expect(seqs(late, 'ops')).toEqual([1, 2, 3]);
  });

  it('loses nothing acked and delivers nothing twice when Redis restarts mid-stream', async () => {
    const [a, b, c] = await cluster.start(3, { REDIS_COMMAND_TIMEOUT_MS: '500' });
    const members = [
      track(await connect(a.wsUrl, 'm1')),
      track(await connect(b.wsUrl, 'm2')),
      track(await connect(c.wsUrl, 'm3')),
    ];
    for (const m of members) await joinRoom(m, 'stream');
    const progress = new Conditions();
    const senders = [
      new ReliableSender(track(await connect(a.wsUrl, 's1')), 'stream', progress),
      new ReliableSender(track(await connect(b.wsUrl, 's2')), 'stream', progress),
    ];
    for (const s of senders) await joinRoom(s.client, 'stream');

    let stop = false;
    const loops = senders.map(async (s, i) => {
      for (let n = 0; !stop; n++) {
        await s.send(`s${i}-${n}`);
        await new Promise((r) => setTimeout(r, 10)); // pacing of the load
      }
    });
    const total = () => senders.reduce((sum, s) => sum + s.acked.size, 0);
    await progress.waitFor('20 acked before the restart', () => total() >= 20, 10000);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 300)); // Redis stays down a while: the outage itself
    await redis.start();
    const resumedAt = total();
    await progress.waitFor('20 more acked after the restart', () => total() >= resumedAt + 20, 15000);
    stop = true;
    await Promise.all(loops);

    const acked = new Map([...senders[0].acked, ...senders[1].acked]);
    const lastSeq = Math.max(...acked.values());
    expect(new Set(acked.values()).size).toBe(acked.size); // one seq per acked message
    expect(lastSeq).toBe(acked.size); // persistent Redis: seqs continue, no gap
    for (const m of members) {
      await m.waitFor('message', lastSeq, 10000);
      expect(seqs(m, 'stream')).toEqual(range(1, lastSeq));
      expectExactlyOnce(m, 'stream', acked);
    }
    expect(senders.some((s) => s.unavailable > 0)).toBe(true);
  });
});

describe('Redis restarted empty (no persistence): a new epoch', () => {
  const redis = new PrivateRedis(false);
  let cluster: Cluster;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(() => redis.start());
  afterAll(() => redis.dispose());
  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    await cluster.close();
  });

  it('keeps delivering live after the history was lost, and resume says recovered=false', async () => {
    cluster = new Cluster(redis.url);
    const [a, b] = await cluster.start(2, { REDIS_COMMAND_TIMEOUT_MS: '500' });
    const sam = track(await connect(a.wsUrl, 'sam'));
    const ria = track(await connect(b.wsUrl, 'ria'));
    await joinRoom(sam, 'r');
    const first = await joinRoom(ria, 'r');
    const sender = new ReliableSender(sam, 'r');
    for (let i = 1; i <= 5; i++) await sender.send(`old-${i}`);
    await ria.waitFor('message', 5);

    await redis.stop();
    await redis.start();
    await poll(() => a.hub.isHealthy() && b.hub.isHealthy(), 10000, 'instances ready again');
    const seq = await sender.send('new-1');
    expect(seq).toBe(1); // the room starts over in a new epoch
    await sender.send('new-2');
    await ria.waitFor('message', 7);
    expect(ria.all('message').map((f) => f.content)).toEqual([
      'old-1',
      'old-2',
      'old-3',
      'old-4',
      'old-5',
      'new-1',
      'new-2',
    ]);

    const back = track(await connect(a.wsUrl, 'back'));
    const joined = await joinRoom(back, 'r', { since: 5, epoch: first.epoch });
    expect(joined.epoch).not.toBe(first.epoch);
    expect(joined).toMatchObject({ recovered: false, seq: 2 });
    expect(back.all('message').map((f) => f.content)).toEqual(['new-1', 'new-2']);
    await deleteKeys(redis.url, cluster.prefix);
  });
});

async function redisUp(redis: PrivateRedis): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${redis.port}`).catch((e: Error) => e);
    return !(res instanceof Error && /ECONNREFUSED/.test(String((res as Error & { cause?: unknown }).cause)));
  } catch {
    return false;
  }
}
