import type { JoinedFrame, MessageFrame } from '../protocol/wire/frames.js';
import { type GapEvent, RoomResume } from './room-resume.js';

const msg = (seq: number): MessageFrame => ({
  type: 'message',
  id: `m${seq}`,
  room: 'r',
  seq,
  time: 0,
  sender: { id: 'u', name: 'u' },
  content: String(seq),
});
const joined = (seq: number, extra: Partial<JoinedFrame> = {}): JoinedFrame => ({
  type: 'joined',
  room: 'r',
  seq,
  epoch: 'e1',
  recovered: true,
  oldestSeq: 1,
  ...extra,
});

function recorder(): { seqs: number[]; gaps: GapEvent[]; deliver: (m: MessageFrame) => void } {
  const seqs: number[] = [];
  return { seqs, gaps: [], deliver: (m) => seqs.push(m.seq) };
}

describe('RoomResume', () => {
  it('asks for the messages after the last one delivered, in the epoch last seen', () => {
    const room = new RoomResume('r');
    expect(room.beginJoin()).toEqual({ type: 'join', room: 'r' });
    const out = recorder();
    room.complete(joined(3), (g) => out.gaps.push(g), out.deliver);
    room.receive(msg(4), out.deliver);
    room.disconnected();
    expect(room.beginJoin()).toEqual({ type: 'join', room: 'r', since: 4, epoch: 'e1' });
  });

  it('holds the replay until joined, then delivers each seq once and in order', () => {
    const room = new RoomResume('r');
    room.restartFrom(2);
    room.beginJoin();
    const out = recorder();
    for (const seq of [2, 3, 4, 4]) room.receive(msg(seq), out.deliver);
    expect(out.seqs).toEqual([]);
    room.complete(joined(4), (g) => out.gaps.push(g), out.deliver);
    room.receive(msg(4), out.deliver);
    room.receive(msg(5), out.deliver);
    expect(out.seqs).toEqual([3, 4, 5]);
    expect(out.gaps).toEqual([]);
    expect(room.lastSeq).toBe(5);
  });

  it('reports a gap before delivering when history no longer covers it', () => {
    const room = new RoomResume('r');
    room.restartFrom(2);
    room.beginJoin();
    const out = recorder();
    room.receive(msg(8), out.deliver);
    room.complete(
      joined(8, { recovered: false, oldestSeq: 8 }),
      (g) => {
        expect(out.seqs).toEqual([]);
        out.gaps.push(g);
      },
      out.deliver,
    );
    expect(out.gaps).toEqual([
      { room: 'r', recovered: false, since: 2, oldestSeq: 8, seq: 8, epochChanged: false, epoch: 'e1' },
    ]);
    expect(out.seqs).toEqual([8]);
  });

  it('starts seqs over when the epoch changed', () => {
    const room = new RoomResume('r');
    room.beginJoin();
    const out = recorder();
    room.complete(joined(10), (g) => out.gaps.push(g), out.deliver);
    room.disconnected();
    room.beginJoin();
    room.receive(msg(1), out.deliver);
    room.complete(joined(1, { epoch: 'e2' }), (g) => out.gaps.push(g), out.deliver);
    expect(out.gaps.map((g) => [g.epochChanged, g.since, g.epoch])).toEqual([[true, 10, 'e2']]);
    expect(out.seqs).toEqual([1]);
    expect(room.epoch).toBe('e2');
  });

  it('on reset adopts the new epoch, reports a gap and delivers the new seqs once, in order', () => {
    const room = new RoomResume('r');
    room.beginJoin();
    const out = recorder();
    room.complete(joined(0), (g) => out.gaps.push(g), out.deliver);
    for (const seq of [1, 2, 3]) room.receive(msg(seq), out.deliver);
    room.reset({ type: 'reset', room: 'r', epoch: 'e2', seq: 0, oldestSeq: 1 }, (g) => out.gaps.push(g));
    for (const seq of [1, 2, 2, 3]) room.receive(msg(seq), out.deliver);
    expect(out.seqs).toEqual([1, 2, 3, 1, 2, 3]);
    expect(out.gaps).toEqual([
      { room: 'r', recovered: false, since: 3, oldestSeq: 1, seq: 0, epochChanged: true, epoch: 'e2' },
    ]);
    expect(room.beginJoin()).toEqual({ type: 'join', room: 'r', since: 3, epoch: 'e2' });
  });

  it('a reset of a room it had nothing from is silent; one for the epoch it has is ignored', () => {
    const room = new RoomResume('r');
    room.beginJoin();
    const out = recorder();
    room.complete(joined(0), (g) => out.gaps.push(g), out.deliver);
    room.reset({ type: 'reset', room: 'r', epoch: 'e2', seq: 0, oldestSeq: 1 }, (g) => out.gaps.push(g));
    room.receive(msg(1), out.deliver);
    room.reset({ type: 'reset', room: 'r', epoch: 'e2', seq: 0, oldestSeq: 1 }, (g) => out.gaps.push(g));
    room.receive(msg(1), out.deliver);
    room.receive(msg(2), out.deliver);
    expect(out.gaps).toEqual([]);
    expect(out.seqs).toEqual([1, 2]);
    expect(room.epoch).toBe('e2');
  });

  it('a reset in its own epoch past its last seq reports the loss in between and goes on after it', () => {
    const room = new RoomResume('r');
    room.beginJoin();
    const out = recorder();
    room.complete(joined(0), (g) => out.gaps.push(g), out.deliver);
    for (const seq of [1, 2]) room.receive(msg(seq), out.deliver);
    room.reset({ type: 'reset', room: 'r', epoch: 'e1', seq: 7, oldestSeq: 8 }, (g) => out.gaps.push(g));
    // One that does not reach past what it has changes nothing.
    room.reset({ type: 'reset', room: 'r', epoch: 'e1', seq: 5, oldestSeq: 3 }, (g) => out.gaps.push(g));
    for (const seq of [8, 9]) room.receive(msg(seq), out.deliver);
    expect(out.seqs).toEqual([1, 2, 8, 9]);
    expect(out.gaps).toEqual([
      { room: 'r', recovered: false, since: 2, oldestSeq: 8, seq: 7, epochChanged: false, epoch: 'e1' },
    ]);
    expect(room.beginJoin()).toEqual({ type: 'join', room: 'r', since: 9, epoch: 'e1' });
  });

  it('a reset held during a join applies after the replay', () => {
    const room = new RoomResume('r');
    room.restartFrom(1);
    room.beginJoin();
    const out = recorder();
    room.receive(msg(2), out.deliver);
    room.reset({ type: 'reset', room: 'r', epoch: 'e2', seq: 0, oldestSeq: 1 }, (g) => out.gaps.push(g));
    room.receive(msg(1), out.deliver);
    room.complete(joined(2), (g) => out.gaps.push(g), out.deliver);
    expect(out.seqs).toEqual([2, 1]);
    expect(out.gaps.map((g) => [g.since, g.epoch])).toEqual([[2, 'e2']]);
  });
});
