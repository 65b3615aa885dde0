import { describe, expect, it } from '@jest/globals';
import type { Connection } from './connection.js';
import { HubCounters } from './hub-counters.js';
import type { HubEventBus } from './hub-events.js';
import { PASS_CHUNK, Writer } from './writer.js';

/** A connection whose queue records what each write pass handed to its socket. */
function connection(): { c: Connection; passes: string[][] } {
  const passes: string[][] = [];
  let queued: string[] = [];
  const queue = {
    scheduled: false,
    length: 0,
    push: (frame: Buffer) => {
      queued.push(frame.toString());
      return true;
    },
    flush: () => {
      passes.push(queued);
      queued = [];
      return true;
    },
  };
  return { c: { queue, open: true } as unknown as Connection, passes };
}

const turn = () => new Promise((r) => setImmediate(r));
const newWriter = () =>
  new Writer(new HubCounters(), {} as HubEventBus, {
    closeTimeoutMs: 1000,
    errorWindowMs: 1000,
    errorLimit: 10,
  });

describe('Writer: the write pass and publications on their way', () => {
  it("writes a turn's frames in one pass at the end of the turn", async () => {
    const writer = newWriter();
    const { c, passes } = connection();
    writer.enqueue(c, Buffer.from('a'));
    writer.enqueue(c, Buffer.from('b'));
    await turn();
    expect(passes).toEqual([['a', 'b']]);
  });

  it('holds a pass once while publications are on their way: the next frame ends the hold, one pass', async () => {
    const writer = newWriter();
    let publishing = true;
    writer.holdPassWhile(() => publishing);
    const { c, passes } = connection();
    writer.enqueue(c, Buffer.from('ack-1'));
    await turn();
    expect(passes).toEqual([]); // held for the publication on its way
    // Its own delivery comes back: queued, and written with what waited, in one pass.
    publishing = false;
    writer.enqueue(c, Buffer.from('m-1'));
    await turn();
    expect(passes).toEqual([['ack-1', 'm-1']]);
  });

  it('holds once only: with publications always on their way, every frame is written by the next pass', async () => {
    const writer = newWriter();
    writer.holdPassWhile(() => true);
    const { c, passes } = connection();
    writer.enqueue(c, Buffer.from('x'));
    await turn();
    expect(passes).toEqual([]);
    writer.enqueue(c, Buffer.from('y'));
    await turn();
    expect(passes).toEqual([['x', 'y']]);
    // Nothing else comes: a held pass writes after HOLD_MS anyway.
    writer.enqueue(c, Buffer.from('z'));
    await turn();
    expect(passes).toHaveLength(1);
    const held = Date.now();
    while (passes.length === 1 && Date.now() - held < 1000) await new Promise((r) => setTimeout(r, 1));
    expect(passes).toEqual([['x', 'y'], ['z']]);
  });

  it('sends what waits for Redis first when a pass runs, even a pass scheduled earlier in the turn', async () => {
    const writer = newWriter();
    const { c, passes } = connection();
    const order: string[] = [];
    writer.sendBeforePass(() => order.push(`send before pass ${passes.length + 1}`));
    writer.enqueue(c, Buffer.from('a')); // the pass is scheduled first in this turn...
    setImmediate(() => order.push('end of turn')); // ...the Redis commands' own flush after it
    await turn();
    expect(order).toEqual(['send before pass 1', 'end of turn']);
    expect(passes).toEqual([['a']]);
    // A turn with nothing to write runs no pass and sends nothing early.
    await turn();
    expect(order).toHaveLength(2);
  });
});

describe('Writer: a long pass in steps', () => {
  it(`writes ${PASS_CHUNK} connections per turn; a frame for one not reached yet rides the pass`, async () => {
    const writer = newWriter();
    const order: string[] = [];
    writer.sendBeforePass(() => order.push('send before step'));
    const members = Array.from({ length: PASS_CHUNK * 2 + 1 }, () => connection());
    for (const m of members) writer.enqueue(m.c, Buffer.from('m-1'));
    await turn();
    // The first step only: the rest of the pass waits for the next turn.
    expect(members.filter((m) => m.passes.length === 1)).toHaveLength(PASS_CHUNK);
    expect(order).toEqual(['send before step']);
    // What came back from Redis meanwhile: queued for every member, written already or not.
    for (const m of members) writer.enqueue(m.c, Buffer.from('m-2'));
    await turn();
    await turn();
    expect(order).toEqual(['send before step', 'send before step', 'send before step']);
    // Not reached yet: one write with both frames. Written in the first step: m-2 in the next pass.
    for (const m of members.slice(PASS_CHUNK)) expect(m.passes).toEqual([['m-1', 'm-2']]);
    for (const m of members.slice(0, PASS_CHUNK)) expect(m.passes).toEqual([['m-1']]);
    await turn();
    for (const m of members.slice(0, PASS_CHUNK)) expect(m.passes).toEqual([['m-1'], ['m-2']]);
    // Every connection written, nothing left: no more passes.
    await turn();
    expect(members.every((m) => m.passes.length <= 2)).toBe(true);
    expect(order).toHaveLength(4);
  });
});
