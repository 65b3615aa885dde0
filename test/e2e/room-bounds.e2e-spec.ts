// Memory mode holds a bounded amount of room history, against a real gateway (`node dist/main.js`):
// rooms without members are freed after ROOM_IDLE_TTL_SEC, all history is capped by
// HISTORY_MAX_BYTES (longest-idle rooms first), a freed room used again starts a new epoch, and a
// room with members is never freed under them.

import { jest } from '@jest/globals';
import { connectAs, GatewayProcess, poll, type TestClient } from '../harness/index.js';

jest.setTimeout(120_000);

const clients: TestClient[] = [];
const track = (c: TestClient) => (clients.push(c), c);

afterEach(() => {
  for (const c of clients.splice(0)) c.terminate();
});

/** The gateway's V8 heap in use, from /metrics (prom-client's default metrics). */
async function heapUsed(g: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${g.httpUrl}/metrics`)).text();
  const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!m) throw new Error('nodejs_heap_size_used_bytes is not in /metrics');
  return Number(m[1]);
}

describe('room history bounds (memory mode)', () => {
  let gateway: GatewayProcess;

  beforeAll(async () => {
    gateway = await GatewayProcess.start({
      env: {
        ROOM_IDLE_TTL_SEC: '1',
        HISTORY_MAX_BYTES: String(2 * 1024 * 1024),
        MAX_CONTENT_LENGTH: '16384',
        MAX_MESSAGE_BYTES: '65536',
        SEND_QUEUE_BYTES: String(16 * 1024 * 1024),
        RATE_LIMIT_PER_SEC: '100000',
        // Without the bounds the rotation below holds ~64 MB of history: more than this heap.
        NODE_OPTIONS: '--max-old-space-size=64',
      },
    });
  });
  afterAll(() => gateway?.stop());

  it('frees a room without members after ROOM_IDLE_TTL_SEC; used again it starts a new epoch', async () => {
    const c = track(await connectAs(gateway.wsUrl, 'idle'));
    const first = await c.join('idle-room');
    await c.say('idle-room', 'hello', 'h1');
    c.send({ type: 'leave', room: 'idle-room' });
    await c.next('left');
    // Nothing announces the freeing, and a join would hold the room again: let two idle TTLs pass
    // (the sweep runs every half TTL), then join once.
    const left = Date.now();
    await poll(() => Date.now() - left > 2000, 5000, 'two idle TTLs');
    const joined = await c.join('idle-room', { since: 0, epoch: first.epoch });
    expect(joined.seq).toBe(0);
    expect(joined.epoch).not.toBe(first.epoch);
    expect(joined.recovered).toBe(false);
  });

  it('never frees a room that has members, however long it is idle', async () => {
    const member = track(await connectAs(gateway.wsUrl, 'stay'));
    const joined = await member.join('kept');
    await member.say('kept', 'one', 'k1');
    // Time has to pass: three idle TTLs with a member and no traffic.
    const start = Date.now();
    await poll(() => Date.now() - start > 3000, 5000, 'three idle TTLs');
    const ack = await member.say('kept', 'two', 'k2');
    expect(ack.seq).toBe(2);
    const again = await member.join('kept', { since: 0, epoch: joined.epoch });
    expect(again).toMatchObject({ epoch: joined.epoch, seq: 2, recovered: true });
  });

  it('holds at most HISTORY_MAX_BYTES of history while thousands of rooms rotate', async () => {
    const c = track(await connectAs(gateway.wsUrl, 'rotator'));
    const heapBefore = await heapUsed(gateway);
    const rooms = 4000;
    const batch = 20;
    const content = 'x'.repeat(16000);
    let acks = 0;
    for (let i = 0; i < rooms; i += batch) {
      for (let j = i; j < i + batch; j++) c.send({ type: 'join', room: `rot-${j}` });
      await c.waitFor('joined', batch, 10_000);
      for (let j = i; j < i + batch; j++) c.send({ type: 'message', room: `rot-${j}`, content, id: `m${j}` });
      acks += (await c.waitFor('ack', batch, 10_000)).length;
      for (let j = i; j < i + batch; j++) c.send({ type: 'leave', room: `rot-${j}` });
      await c.waitFor('left', batch, 10_000);
      expect(c.all('error')).toEqual([]);
      c.frames.length = 0; // the echoes are 16 kB each: keep this process small
    }
    expect(acks).toBe(rooms);
    // ~64 MB went into history; the cap is 2 MiB. The heap figure includes garbage not yet
    // collected, hence the margin; without the bounds the process runs out of its 64 MB heap.
    const growth = (await heapUsed(gateway)) - heapBefore;
    expect(growth).toBeLessThan(24 * 1024 * 1024);
    expect(gateway.running).toBe(true);
    // The oldest rooms were evicted: used again, they start a new epoch at seq 0.
    const joined = await c.join('rot-0', { since: 0 });
    expect(joined.seq).toBe(0);
  });
});
