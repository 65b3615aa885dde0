import type { JoinedFrame, JoinFrame, MessageFrame, ResetFrame } from '../protocol/wire/frames.js';
import type { GatewayError } from './gateway-error.js';

/**
 * History could not fill the gap since the last seq the client had, or the room's history generation
 * changed under it (`reset`): some messages may have been lost.
 */
export interface GapEvent {
  room: string;
  recovered: false;
  /** The last seq the client had delivered before the rejoin (or the reset). */
  since: number;
  /** The lowest seq the server still held. */
  oldestSeq: number;
  /** The room's last seq after the replay. */
  seq: number;
  /**
   * The room's history generation changed (the server lost its history); seqs start over. False for
   * a `reset` in the same epoch: the messages between `since` and `seq` were lost, seqs go on.
   */
  epochChanged: boolean;
  epoch: string;
}

/**
 * A room the client is in, and its resume across reconnects: each (re)join asks for the messages
 * after the last seq delivered (`since`) in the epoch last seen, holds the replay until `joined`
 * says which epoch it came from and whether it was complete, then delivers every message exactly
 * once and in seq order.
 */
export class RoomResume {
  /** The last seq delivered to the application (the next rejoin's `since`). */
  lastSeq?: number;
  epoch?: string;
  /** Joined on the current connection. */
  joined = false;
  lastJoined?: JoinedFrame;
  /** `join()` calls waiting for the next `joined`. */
  readonly waiters: Array<{ resolve: (frame: JoinedFrame) => void; reject: (err: GatewayError) => void }> =
    [];
  /** `last` of the first join: the room's recent messages, asked for until the first `joined`. */
  recent?: number;
  /** Temporary join failures in a row. */
  retries = 0;
  /** Set while a join is in flight: replayed messages are held until `joined` says which epoch they are from. */
  private pending: { since?: number; epoch?: string; buffer: (MessageFrame | ResetFrame)[] } | null = null;

  constructor(readonly name: string) {}

  /** A join is in flight. */
  get joining(): boolean {
    return this.pending !== null;
  }

  /** Starts from `since` instead of what was delivered (a `join` with an explicit `since`). */
  restartFrom(since: number): void {
    this.lastSeq = since;
    this.epoch = undefined;
  }

  /** The `join` that resumes from what the application has; messages are held until `joined`. */
  beginJoin(): JoinFrame {
    const frame: JoinFrame = { type: 'join', room: this.name };
    if (this.lastSeq !== undefined) {
      frame.since = this.lastSeq;
      if (this.epoch !== undefined) frame.epoch = this.epoch;
    } else if (this.recent !== undefined) {
      frame.last = this.recent;
    }
    this.pending = { since: frame.since, epoch: frame.epoch, buffer: [] };
    return frame;
  }

  /** The join in flight failed or its connection closed; the next one resumes from lastSeq again. */
  abandonJoin(): void {
    this.pending = null;
  }

  /** The connection closed: not joined, and lastSeq (only delivered messages advanced it) stays. */
  disconnected(): void {
    this.joined = false;
    this.pending = null;
  }

  /** A live or replayed message: held while joining, else delivered unless already delivered. */
  receive(frame: MessageFrame, deliver: (frame: MessageFrame) => void): void {
    if (this.pending) {
      this.pending.buffer.push(frame);
      return;
    }
    this.deliver(frame, deliver);
  }

  /**
   * `reset`: the server lost the room's history and its seqs start over in a new epoch, or (same
   * epoch) messages up to `frame.seq` were lost on their way. Adopts the epoch and resumes from
   * `frame.seq`; reports a gap unless nothing can have been lost (no message delivered from the old
   * epoch and none of the new one skipped; in the same epoch, nothing after the last delivered).
   * Held in order while joining.
   */
  reset(frame: ResetFrame, onGap: (gap: GapEvent) => void): void {
    if (this.pending) {
      this.pending.buffer.push(frame);
      return;
    }
    const since = this.lastSeq ?? 0;
    const sameEpoch = frame.epoch === this.epoch;
    // The same epoch: seqs up to frame.seq were lost on the server's side, unless a join already
    // answered that far (a join answered from the new epoch, or past the loss).
    if (sameEpoch && frame.seq <= since) return;
    if (sameEpoch || since > 0 || frame.seq > 0) {
      onGap({
        room: frame.room,
        recovered: false,
        since,
        oldestSeq: frame.oldestSeq,
        seq: frame.seq,
        epochChanged: !sameEpoch,
        epoch: frame.epoch,
      });
    }
    this.epoch = frame.epoch;
    this.lastSeq = frame.seq;
  }

  /**
   * `joined` ends the join: reports a gap (`onGap`) when the replay was incomplete or the epoch
   * changed, then delivers the held messages.
   */
  complete(frame: JoinedFrame, onGap: (gap: GapEvent) => void, deliver: (frame: MessageFrame) => void): void {
    const resume = this.pending;
    this.pending = null;
    this.joined = true;
    this.retries = 0;
    this.lastJoined = frame;
    const since = resume?.since;
    const epochChanged = since !== undefined && resume?.epoch !== undefined && frame.epoch !== resume.epoch;
    if (since !== undefined && (!frame.recovered || epochChanged)) {
      onGap({
        room: frame.room,
        recovered: false,
        since,
        oldestSeq: frame.oldestSeq,
        seq: frame.seq,
        epochChanged,
        epoch: frame.epoch,
      });
    }
    // A new epoch numbers its messages from scratch: what it replays is all new to the application.
    if (epochChanged) this.lastSeq = undefined;
    this.epoch = frame.epoch;
    // The replay (held messages up to frame.seq) is delivered before the joined seq is adopted; a
    // held `reset` (it comes after `joined`) ends the joined epoch.
    let adopted = false;
    for (const held of resume?.buffer ?? []) {
      if (held.type === 'message') {
        this.deliver(held, deliver);
        continue;
      }
      if (!adopted) this.adoptJoinedSeq(frame.seq);
      adopted = true;
      this.reset(held, onGap);
    }
    if (!adopted) this.adoptJoinedSeq(frame.seq);
  }

  private adoptJoinedSeq(seq: number): void {
    if (this.lastSeq === undefined || seq > this.lastSeq) this.lastSeq = seq;
  }

  /** The one place a room message reaches the application: at most once per seq, in seq order. */
  private deliver(frame: MessageFrame, deliver: (frame: MessageFrame) => void): void {
    if (this.lastSeq !== undefined && frame.seq <= this.lastSeq) return;
    this.lastSeq = frame.seq;
    deliver(frame);
  }
}
