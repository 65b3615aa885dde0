import { MemoryBroker } from '../cluster/memory/memory-broker.js';
import type { RoomMessage } from '../protocol/frames.js';
import type { Connection } from './connection.js';
import { framePayload } from './frame.js';
import { HubCounters } from './hub-counters.js';
import { LocalRoom } from './room.js';
import type { Writer } from './writer.js';

/** A writer that records what each connection was sent (the room's only output). */
function recordingWriter(): { writer: Writer; seqs: (c: Connection) => number[] } {
  const sent = new Map<Connection, number[]>();
  const writer = {
    counters: new HubCounters(),
    enqueue(c: Connection, frame: Buffer) {
      const m = JSON.parse(framePayload(frame).toString()) as RoomMessage;
      sent.set(c, [...(sent.get(c) ?? []), m.seq]);
    },
  } as unknown as Writer;
  return { writer, seqs: (c) => sent.get(c) ?? [] };
}

const conn = (id: string) => ({ id, open: true }) as unknown as Connection;
const sender = { id: 'u', name: 'U' };

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
    const m = (seq: number): RoomMessage => ({
      id: `m${seq}`,
      room: 'r',
      seq,
      time: Date.now(),
      sender,
      content: '',
    });
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
});
