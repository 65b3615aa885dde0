import { MemoryBroker } from '../cluster/memory/memory-broker.js';
import type { RoomMessage } from '../protocol/frames.js';
import type { Connection } from './connection.js';
import { framePayload } from './frame.js';
import { HubCounters } from './hub-counters.js';
import { LocalRoom } from './room.js';
import type { Writer } from './writer.js';

/** A writer that records what each connection was sent (the room's only output). */
function recordingWriter(): { writer: Writer; seqs: (c: Connection) => (number | string)[] } {
  const sent = new Map<Connection, (number | string)[]>();
  const writer = {
    counters: new HubCounters(),
    enqueue(c: Connection, frame: Buffer) {
      const f = JSON.parse(framePayload(frame).toString()) as RoomMessage & { type: string; epoch?: string };
      sent.set(c, [...(sent.get(c) ?? []), f.type === 'reset' ? `reset:${f.epoch}` : f.seq]);
    },
  } as unknown as Writer;
  return { writer, seqs: (c) => sent.get(c) ?? [] };
}

const conn = (id: string) => ({ id, open: true }) as unknown as Connection;
const sender = { id: 'u', name: 'U' };
/** A live message of room `r`. */
const m = (seq: number): RoomMessage => ({
  id: `m${seq}`,
  room: 'r',
  seq,
  time: Date.now(),
  sender,
  content: '',
});
/** Room `r` with one member, who has had seqs 1 and 2. */
function roomWithMember() {
  const { writer, seqs } = recordingWriter();
  const room = new LocalRoom('r');
  const member = conn('member');
  room.completeJoin(member, room.beginJoin(member), writer);
  room.deliver(m(1), writer);
  room.deliver(m(2), writer);
  return { writer, seqs, room, member };
}
/** A history read that answered `seq` in `epoch`, with no messages to replay. */
const slice = (seq: number, epoch = 'e1') => ({
  messages: [],
  seq,
  epoch,
  oldestSeq: seq + 1,
  recovered: true,
});

describe('LocalRoom: the join catch-up invariant (against the memory broker)', () => {
  it('a joiner gets history after since, then every live message once, while the room is busy', async () => {
    const { writer, seqs } = recordingWriter();
    const rooms = new Map<string, LocalRoom>();
    const broker = new MemoryBroker(100);
    broker.setHandler({
      onMessage: (m) => rooms.get(m.room)?.deliver(m, writer),
      onRoomEvent: () => undefined,
      onUserEvent: () => undefined,
      onBroadcast: () => undefined,
    });
    const publish = (n: number) =>
      broker.publish({ id: `m${n}`, room: 'r', time: Date.now(), sender, content: `m${n}` });
    for (let n = 1; n <= 3; n++) publish(n);

    const member = conn('member');
    const joiner = conn('joiner');
    const room = new LocalRoom('r');
    rooms.set('r', room);
    room.completeJoin(member, room.beginJoin(member), writer); // joined before anything below
    const state = room.beginJoin(joiner);
    publish(4); // while the history read is under way: in the history and held
    const slice = await broker.history('r', 1);
    publish(5); // after the read: held, not in the replay
    room.replay(joiner, state, slice, writer);
    publish(6); // while `joined` is being prepared (presence): still held
    expect(room.isCurrent(joiner, state)).toBe(true);
    room.completeJoin(joiner, state, writer);
    publish(7); // a plain member now
    expect(seqs(joiner)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(seqs(member)).toEqual([4, 5, 6, 7]);
    expect(room.members.has(joiner)).toBe(true);
    expect(room.joining.size).toBe(0);
  });

  it('a room new to this instance does not deliver again what its first replay covered', () => {
    const { writer, seqs } = recordingWriter();
    const room = new LocalRoom('r');
    const c = conn('c');
    const state = room.beginJoin(c);
    room.replay(
      c,
      state,
      { messages: [m(9), m(10)], seq: 10, epoch: 'e', oldestSeq: 9, recovered: true },
      writer,
    );
    room.completeJoin(c, state, writer);
    room.deliver(m(10), writer); // still in flight from the broker when history was read
    room.deliver(m(11), writer);
    expect(seqs(c)).toEqual([9, 10, 11]);
  });

  it('a join superseded by a leave or a close is no longer current', () => {
    const room = new LocalRoom('r');
    const c = conn('c');
    const state = room.beginJoin(c);
    room.delete(c);
    expect(room.isCurrent(c, state)).toBe(false);
    const again = room.beginJoin(c);
    expect(room.isCurrent(c, state)).toBe(false);
    expect(room.isCurrent(c, again)).toBe(true);
  });

  it('reset: members hear it before the new epoch; a joiner in its place, unless it read the new epoch', () => {
    const { writer, seqs, room, member } = roomWithMember();

    const oldReader = conn('old');
    const oldState = room.beginJoin(oldReader);
    room.replay(oldReader, oldState, slice(2, 'e1'), writer);
    const newReader = conn('new');
    const newState = room.beginJoin(newReader);
    room.deliver(m(3), writer); // held for both
    room.reset({ epoch: 'e2', seq: 0, oldestSeq: 1 }, writer);
    room.deliver(m(1), writer); // the new epoch: held for both
    room.replay(newReader, newState, slice(1, 'e2'), writer);
    room.deliver(m(2), writer);
    room.completeJoin(oldReader, oldState, writer);
    room.completeJoin(newReader, newState, writer);
    room.deliver(m(3), writer);

    expect(seqs(member)).toEqual([1, 2, 3, 'reset:e2', 1, 2, 3]);
    expect(seqs(oldReader)).toEqual([3, 'reset:e2', 1, 2, 3]);
    expect(seqs(newReader)).toEqual([2, 3]);
  });

  it('reset in the same epoch (seqs lost on the way): members hear it, and joiners whose read did not pass it', () => {
    const { writer, seqs, room, member } = roomWithMember();
    const early = conn('early');
    const earlyState = room.beginJoin(early);
    room.replay(early, earlyState, slice(2), writer); // its read reached seq 2
    const late = conn('late');
    const lateState = room.beginJoin(late);
    room.reset({ epoch: 'e1', seq: 6, oldestSeq: 7 }, writer); // 3..6 never reached this instance
    room.deliver(m(7), writer);
    room.replay(late, lateState, slice(7), writer); // its read came after: past the loss
    room.completeJoin(early, earlyState, writer);
    room.completeJoin(late, lateState, writer);
    room.deliver(m(8), writer);
    expect(seqs(member)).toEqual([1, 2, 'reset:e1', 7, 8]);
    expect(seqs(early)).toEqual(['reset:e1', 7, 8]);
    expect(seqs(late)).toEqual([8]);
  });
});
