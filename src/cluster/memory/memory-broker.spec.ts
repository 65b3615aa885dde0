import { MemoryBroker } from './memory-broker.js';

const sender = { id: 'u', name: 'U' };
const publish = (b: MemoryBroker, room: string, content = 'x', time = Date.now()) =>
  b.publish({ id: `${room}-${Math.random()}`, room, time, sender, content });

describe('MemoryBroker room bounds', () => {
  it('frees rooms without members after the idle TTL; a freed room starts a new epoch', async () => {
    const b = new MemoryBroker(10, undefined, { roomIdleTtlMs: 1000, historyMaxBytes: 0 });
    try {
      const t0 = Date.now();
      publish(b, 'gone', 'x', t0);
      await b.subscribeRoom('kept');
      publish(b, 'kept', 'x', t0);
      const before = await b.history('gone', 0);
      expect(before.seq).toBe(1);
      b.freeIdle(t0 + 999);
      expect(b.usage.rooms).toBe(2);
      b.freeIdle(t0 + 5000);
      expect(b.usage.rooms).toBe(1); // `kept` has members
      const after = await b.history('gone', 0, before.epoch);
      expect(after).toMatchObject({ seq: 0, recovered: false });
      expect(after.epoch).not.toBe(before.epoch);
      expect(publish(b, 'gone').seq).toBe(1);
      expect((await b.history('gone')).epoch).toBe(after.epoch);
      expect((await b.history('kept')).seq).toBe(1);
    } finally {
      await b.close();
    }
  });

  it('a room joined but never published to is dropped when its last member leaves', async () => {
    const b = new MemoryBroker(10);
    await b.subscribeRoom('r');
    expect(b.usage.rooms).toBe(1);
    await b.unsubscribeRoom('r');
    expect(b.usage.rooms).toBe(0);
  });

  it('over HISTORY_MAX_BYTES evicts the longest-idle rooms without members, then trims rooms with members', async () => {
    const content = 'y'.repeat(1000); // ~2.2 KB each by the estimate
    const b = new MemoryBroker(100, undefined, { roomIdleTtlMs: 0, historyMaxBytes: 50_000 });
    await b.subscribeRoom('member');
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) publish(b, 'member', content, t0 + i);
    for (let i = 0; i < 30; i++) publish(b, `idle-${i}`, content, t0 + 100 + i);
    expect(b.usage.bytes).toBeLessThanOrEqual(50_000);
    // The oldest idle rooms went first; the room with members kept its epoch and newest messages.
    expect((await b.history('idle-0')).seq).toBe(0);
    expect((await b.history('idle-29')).seq).toBe(1);
    const member = await b.history('member', 0);
    expect(member.seq).toBe(10);
    for (let i = 0; i < 40; i++) publish(b, 'member', content, t0 + 1000 + i);
    expect(b.usage.bytes).toBeLessThanOrEqual(50_000);
    const trimmed = await b.history('member', 0);
    expect(trimmed).toMatchObject({ seq: 50, epoch: member.epoch, recovered: false });
    expect(trimmed.messages.at(-1)?.seq).toBe(50);
    expect(trimmed.messages.length).toBeLessThan(40);
  });

  it('messages trimmed over HISTORY_MAX_BYTES are a loss even when skipped seqs lie around them', async () => {
    const content = 'y'.repeat(1000);
    const b = new MemoryBroker(100, undefined, { roomIdleTtlMs: 0, historyMaxBytes: 20_000 });
    await b.subscribeRoom('r');
    const skip = (i: number) =>
      b.publish(
        { id: `s${i}`, room: 'r', time: Date.now(), sender, content: 'typing' },
        { skipHistory: true },
      );
    for (let i = 1; i <= 3; i++) skip(i); // 1-3 skipped
    // Then every third skipped.
    for (let i = 4; i <= 30; i++) {
      if (i % 3 === 0) skip(i);
      else publish(b, 'r', content);
    }
    const h = await b.history('r', 0);
    expect(h.oldestSeq).toBeGreaterThan(4); // stored messages were trimmed
    expect(h.recovered).toBe(false);
    const before = h.oldestSeq - 1; // the seq right before the oldest held
    expect((await b.history('r', before - 1, h.epoch)).recovered).toBe(before % 3 === 0);
    expect((await b.history('r', 2, h.epoch)).recovered).toBe(false);
  });
});
