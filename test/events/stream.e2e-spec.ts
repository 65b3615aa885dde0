import { Redis } from 'ioredis';
import {
  connectAs as connect,
  deleteKeys,
  GatewayProcess,
  join as joinRoom,
  SHARED_REDIS_URL,
  type TestClient,
  uniquePrefix,
} from '../harness/index.js';
import { alternates, type StreamEvent, StreamReader, toEvent, transitions } from './stream-kit.js';

/**
 * The event stream with two gateways (`node dist/main.js`) on one Redis, one of them SIGKILLed:
 * every acked message is in the stream (a consumer group reads each exactly once after dedup by
 * room, epoch, seq), presence is debounced across reloads and instances, and a crash yields offline
 * within the lease time plus the grace.
 */
describe('the event stream across instances', () => {
  const prefix = uniquePrefix();
  const TTL = 1500;
  const GRACE = 2000;
  /** How long a reload takes: longer than a presence sweep (TTL / 4), shorter than the grace. */
  const AWAY_MS = 800;
  const away = () => new Promise((resolve) => setTimeout(resolve, AWAY_MS));
  const env = {
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    PRESENCE_TTL_MS: String(TTL),
    PRESENCE_GRACE_MS: String(GRACE),
    AUTH_DEV_TOKENS: 'false',
    RATE_LIMIT_PER_SEC: '100000',
  };
  let x: GatewayProcess;
  let y: GatewayProcess;
  let stream: StreamReader;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(async () => {
    [x, y] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
    stream = new StreamReader(SHARED_REDIS_URL, prefix);
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([x?.kill(), y?.kill()]);
    stream?.close();
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('a reload and a reconnect to another instance within the grace are neither offline nor online', async () => {
    const first = track(await connect(x.wsUrl, 'rel'));
    await joinRoom(first, 'p');
    await stream.waitFor('online and joined of rel', (es) => transitions(es, 'rel', 'p').length === 1);
    first.close();
    await away();
    const reloaded = track(await connect(x.wsUrl, 'rel')); // a page reload
    await joinRoom(reloaded, 'p');
    reloaded.close();
    await away();
    const moved = track(await connect(y.wsUrl, 'rel')); // to another instance
    await joinRoom(moved, 'p');
    // A later departure (same grace) proves the earlier ones had their chance to be announced.
    const marker = track(await connect(y.wsUrl, 'marker'));
    await joinRoom(marker, 'p');
    marker.close();
    const events = await stream.waitFor('offline of marker', (es) =>
      es.some((e) => e.type === 'offline' && e.data.user.id === 'marker'),
    );
    expect(transitions(events, 'rel')).toEqual(['online']);
    expect(transitions(events, 'rel', 'p')).toEqual(['joined']);
    expect(transitions(events, 'marker')).toEqual(['online', 'offline']);
    expect(transitions(events, 'marker', 'p')).toEqual(['joined', 'left']);
    const left = events.find((e) => e.type === 'left' && e.data.user.id === 'marker')!;
    expect(left.data).toEqual({
      room: 'p',
      user: { id: 'marker', name: 'marker' },
      reason: 'disconnect',
      time: expect.any(Number),
    });
    moved.close();
  }, 20000);

  it('1,000 acked messages are read exactly once by a consumer group, across a SIGKILL; the crash yields offline', async () => {
    const group = 'test-readers';
    const reader = new Redis(SHARED_REDIS_URL, { protocol: 2, maxRetriesPerRequest: 1 });
    try {
      await reader.xgroup('CREATE', stream.key, group, '$', 'MKSTREAM');
      const crashy = track(await connect(x.wsUrl, 'crashy'));
      await joinRoom(crashy, 'm');
      let a = track(await connect(x.wsUrl, 'a'));
      const b = track(await connect(y.wsUrl, 'b'));
      await joinRoom(a, 'm');
      await joinRoom(b, 'm');
      await stream.waitFor('online of crashy', (es) => transitions(es, 'crashy').length === 1);

      const acked = new Map<string, number>(); // sender/id -> seq
      const ackedBy = (c: TestClient, user: string) => {
        for (const f of c.all('ack')) acked.set(`${user}/${f.id}`, f.seq);
      };
      const sendRange = async (c: TestClient, user: string, from: number, to: number) => {
        for (let i = from; i <= to; i++)
          c.send({ type: 'message', room: 'm', content: `${user}${i}`, id: `${user}${i}` });
        await c.waitFor('ack', to - from + 1, 10_000);
      };
      // b sends 500 on y while a sends 250 on x, is SIGKILLed, and resends what was not acked on y.
      const bDone = sendRange(b, 'b', 1, 500);
      for (let i = 1; i <= 250; i++) a.send({ type: 'message', room: 'm', content: `a${i}`, id: `a${i}` });
      await a.next('ack', 5000, (f) => f.id === 'a100');
      const tKill = Date.now();
      await x.kill('SIGKILL');
      await a.closed();
      ackedBy(a, 'a');
      const unacked = [];
      for (let i = 1; i <= 250; i++) if (!acked.has(`a/a${i}`)) unacked.push(i);
      a = track(await connect(y.wsUrl, 'a'));
      await joinRoom(a, 'm');
      for (const i of unacked) a.send({ type: 'message', room: 'm', content: `a${i}`, id: `a${i}` });
      for (let i = 251; i <= 500; i++) a.send({ type: 'message', room: 'm', content: `a${i}`, id: `a${i}` });
      await a.waitFor('ack', unacked.length + 250, 10_000);
      await bDone;
      ackedBy(a, 'a');
      ackedBy(b, 'b');
      expect(acked.size).toBe(1000);

      // Two consumers of one group share the work; each entry is delivered to one of them.
      const seen: StreamEvent[] = [];
      const deadline = Date.now() + 15_000;
      const have = () =>
        new Set(seen.filter((e) => e.type === 'message').map((e) => `${e.data.sender.id}/${e.data.id}`));
      for (let turn = 0; have().size < 1000 && Date.now() < deadline; turn++) {
        const consumer = turn % 2 === 0 ? 'c1' : 'c2';
        const reply = (await reader.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          300,
          'BLOCK',
          200,
          'STREAMS',
          stream.key,
          '>',
        )) as [string, [string, string[]][]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) seen.push(toEvent(id, fields));
        if (entries.length > 0) await reader.xack(stream.key, group, ...entries.map(([id]) => id));
      }
      const ids = seen.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length); // the group delivered each entry once
      const byKey = new Map<string, StreamEvent>();
      for (const e of seen)
        if (e.type === 'message') byKey.set(`${e.data.room}/${e.data.epoch}/${e.data.seq}`, e);
      // After dedup: one entry per acked message, with the seq its sender was acked with.
      const messages = [...byKey.values()];
      expect(messages.length).toBe(1000);
      for (const e of messages) expect(acked.get(`${e.data.sender.id}/${e.data.id}`)).toBe(e.data.seq);

      // The crash: crashy's lease expires, then the grace passes; a reconnected elsewhere in time.
      const events = await stream.waitFor(
        'offline of crashy',
        (es) => es.some((e) => e.type === 'offline' && e.data.user.id === 'crashy'),
        TTL + GRACE + 5000,
      );
      const offline = events.find((e) => e.type === 'offline' && e.data.user.id === 'crashy')!;
      expect(offline.data.time - tKill).toBeLessThanOrEqual(TTL + GRACE + 1500);
      expect(events.find((e) => e.type === 'left' && e.data.user.id === 'crashy')?.data).toMatchObject({
        room: 'm',
        reason: 'crash',
      });
      expect(transitions(events, 'a')).toEqual(['online']);
      for (const user of new Set(
        events.filter((e) => e.type === 'online').map((e) => e.data.user.id as string),
      )) {
        expect(alternates(transitions(events, user), 'online', 'offline')).toBe(true);
        expect(alternates(transitions(events, user, 'm'), 'joined', 'left')).toBe(true);
      }
    } finally {
      reader.disconnect();
    }
  }, 60000);
});
