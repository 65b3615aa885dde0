import type { HistorySlice, RoomReset } from '../cluster/broker.js';
import type { RoomMessage } from '../protocol/frames.js';
import type { Connection } from './connection.js';
import { encodeFrame, textFrame } from './frame.js';
import { HubCounters } from './hub-counters.js';
import { replayFrame } from './replay-frame.js';
import type { Writer } from './writer.js';

/**
 * A joiner still being caught up: while its history is being read (`pending` non-null) live
 * messages are held; afterwards live messages up to `after` (already replayed) are skipped.
 */
export interface JoinState {
  pending: RoomMessage[] | null;
  after: number;
  /** The epoch the joiner's history read answered (its `joined` carries it). */
  epoch?: string;
  /** The room's epoch changed while the history was read: `pending[index..]` are of the new one. */
  reset?: { index: number; reset: RoomReset; frame: Buffer };
}

/**
 * Whether a joiner must hear `reset`: its history read answered another epoch, or did not reach the
 * seqs the reset says were lost.
 */
function needsReset(state: JoinState, reset: RoomReset): boolean {
  return state.epoch !== reset.epoch || state.after < reset.seq;
}

/**
 * This instance's members of one room, and its catch-up invariant: a joiner receives the history
 * after its `since`, then `joined`, then every live message after it, with no gap and no duplicate,
 * even while the room is busy. A join goes `beginJoin` (live messages are held from now on),
 * `replay` (the history read after subscribing), `completeJoin` (after `joined` was sent: what was
 * held, then the joiner becomes a plain member once live delivery has caught up with it); `deliver`
 * hands each live message to members and joiners alike.
 */
export class LocalRoom {
  /** Members that receive live messages directly. */
  readonly members = new Set<Connection>();
  /** Members being caught up (see JoinState). */
  readonly joining = new Map<Connection, JoinState>();
  /** Highest seq delivered on this instance. */
  deliveredSeq = 0;

  constructor(readonly name: string) {}

  get size(): number {
    return this.members.size + this.joining.size;
  }

  delete(c: Connection): void {
    this.members.delete(c);
    this.joining.delete(c);
  }

  /** Starts (re)joining `c`: live messages are held for it until `completeJoin`. */
  beginJoin(c: Connection): JoinState {
    const state: JoinState = { pending: [], after: 0 };
    this.members.delete(c);
    this.joining.set(c, state);
    return state;
  }

  /** Whether `state` is still `c`'s join: not superseded by another join, a leave or a close. */
  isCurrent(c: Connection, state: JoinState): boolean {
    return c.open && this.joining.get(c) === state;
  }

  /** A rejoin whose history read failed: `c` stays the member it was. */
  abortRejoin(c: Connection): void {
    this.joining.delete(c);
    this.members.add(c);
  }

  /** Queues the history read for the join and records which seqs it covers. */
  replay(c: Connection, state: JoinState, slice: HistorySlice, writer: Writer): void {
    for (const m of slice.messages) writer.enqueue(c, replayFrame(m, messageFrame));
    state.after = slice.seq;
    state.epoch = slice.epoch;
    // A room new to this instance has delivered nothing yet: publications up to the history's seq
    // that are still in flight from the broker are covered by the replay, not to be delivered again.
    if (this.members.size === 0 && this.joining.size === 1 && this.deliveredSeq < slice.seq) {
      this.deliveredSeq = slice.seq;
    }
  }

  /** After `joined`: queues the held live messages the replay did not cover. */
  completeJoin(c: Connection, state: JoinState, writer: Writer): void {
    const pending = state.pending ?? [];
    state.pending = null;
    let from = 0;
    const reset = state.reset;
    if (reset !== undefined) {
      state.reset = undefined;
      // Read before the reset: the old epoch's held messages, then `reset`, then the new epoch's.
      // Read after it: the held messages before the reset belong to an epoch the joiner never saw.
      if (needsReset(state, reset.reset)) {
        this.catchUp(c, state, pending, 0, reset.index, writer);
        writer.enqueue(c, reset.frame);
        state.after = reset.reset.seq;
      }
      from = reset.index;
    }
    this.catchUp(c, state, pending, from, pending.length, writer);
    if (this.deliveredSeq >= state.after) {
      this.joining.delete(c);
      this.members.add(c);
    }
  }

  private catchUp(
    c: Connection,
    state: JoinState,
    pending: RoomMessage[],
    from: number,
    to: number,
    writer: Writer,
  ): void {
    for (let i = from; i < to; i++) {
      const m = pending[i];
      if (m.seq > state.after) {
        writer.enqueue(c, messageFrame(m));
        state.after = m.seq;
      }
    }
  }

  /**
   * The room's epoch changed (the broker lost its history), or, in the same epoch, seqs up to
   * `reset.seq` were lost on their way to this instance: every member hears `reset` before the next
   * message; a joiner hears it in its place among the held messages, unless its history read
   * already came from that epoch and reached `reset.seq`.
   */
  reset(reset: RoomReset, writer: Writer): void {
    this.deliveredSeq = reset.seq;
    const frame = encodeFrame({ type: 'reset', room: this.name, ...reset });
    for (const c of this.members) writer.enqueue(c, frame);
    HubCounters.bump(writer.counters.framesOut, 'reset', this.members.size);
    for (const [c, state] of this.joining) {
      if (state.pending !== null) {
        state.reset = { index: state.pending.length, reset, frame };
      } else if (needsReset(state, reset)) {
        writer.enqueue(c, frame);
        state.after = reset.seq;
      }
    }
  }

  /** A live message from the broker: to every member once, held or skipped for joiners. */
  deliver(m: RoomMessage, writer: Writer): void {
    if (m.seq <= this.deliveredSeq) return; // already delivered here (a replayed publication)
    this.deliveredSeq = m.seq;
    const frame = messageFrame(m);
    for (const c of this.members) writer.enqueue(c, frame);
    const counters = writer.counters;
    HubCounters.bump(counters.framesOut, 'message', this.members.size);
    counters.onFanout?.(Date.now() - m.time, this.size);
    if (this.joining.size === 0) return;
    for (const [c, state] of this.joining) {
      if (state.pending !== null) {
        state.pending.push(m);
        continue;
      }
      if (m.seq > state.after) writer.enqueue(c, frame);
      if (m.seq >= state.after) {
        this.joining.delete(c);
        this.members.add(c);
      }
    }
  }

  /** An ephemeral frame (presence) to every member and joiner except the connection that caused it. */
  deliverEvent(frame: Buffer, origin: string | undefined, writer: Writer): void {
    for (const c of this.members) if (c.id !== origin) writer.enqueue(c, frame);
    for (const c of this.joining.keys()) if (c.id !== origin) writer.enqueue(c, frame);
  }
}

/** The `message` frame of a room message: the stored object's JSON with `type` in front. */
export function messageFrame(m: RoomMessage): Buffer {
  return textFrame('{"type":"message",' + JSON.stringify(m).slice(1));
}
