import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { framePayload } from './frame.js';

/**
 * The batches most recently written during one flush pass of the hub. Members of a room usually
 * hold the very same frames in the same order (the turn's publications to that room), so a
 * connection whose queue equals a recent one writes the same concatenated Buffer instead of copying
 * the frames again: one concatenation per room and turn instead of one per member. A few slots, so
 * that a publisher's queue (the same frames plus its acks) does not evict its room's batch.
 */
export class BatchCache {
  private readonly frames: (Buffer[] | null)[] = [null, null, null, null];
  private readonly batches: (Buffer | null)[] = [null, null, null, null];
  private next = 0;

  get(frames: Buffer[]): Buffer | null {
    for (let i = 0; i < 4; i++) {
      const f = this.frames[i];
      if (f !== null && sameFrames(f, frames)) return this.batches[i];
    }
    return null;
  }

  put(frames: Buffer[], batch: Buffer): void {
    this.frames[this.next] = frames;
    this.batches[this.next] = batch;
    this.next = (this.next + 1) & 3;
  }
}

/**
 * Running totals over every SendQueue of an instance, kept as frames come and go (two integer adds
 * per push and per flush, no allocation), so that a scrape reads them instead of walking every
 * connection. `backedUp` holds the queues waiting for their socket to drain: between event-loop
 * turns they are the only ones that can hold frames (every other queue is flushed within the turn).
 */
export class QueueTotals {
  frames = 0;
  bytes = 0;
  readonly backedUp = new Set<SendQueue>();
}

/** The totals of queues built without an instance's (unit tests): counted, never read. */
const UNTRACKED = new QueueTotals();

export interface QueueLimits {
  readonly messages: number;
  readonly bytes: number;
}

/**
 * A connection's bounded outbound queue and its writer (gorilla's `send` channel and write pump).
 *
 * Frames are pre-built WebSocket frames shared between recipients. The writer runs once per
 * event-loop turn for a connection (the hub schedules it) and hands everything queued to the socket
 * in ONE write (frames concatenated, each keeping its frame boundary): on loopback a write costs
 * several microseconds, so a write per frame would cap fan-out far below what the CPU can encode.
 *
 * The bound is gorilla's: it counts frames the writer could not hand over because the socket is
 * backed up (write() returned false and 'drain' has not come). A connection whose socket is moving
 * never overflows however large a burst is: passing the bound while the socket is writable flushes
 * at once instead. Only a peer that stops reading fills the queue, and then `push` reports overflow
 * and the hub closes it 1013 "slow consumer".
 *
 * With permessage-deflate negotiated the frames cannot be written raw (each needs its own
 * compression), so they go through ws.send and `ws.bufferedAmount` is the bound.
 */
export class SendQueue {
  private frames: Buffer[] | null = null;
  private bytes = 0;
  private waitingDrain = false;
  private closed = false;
  /** Set by the hub while the connection is on its list of connections to flush. */
  scheduled = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly limits: QueueLimits,
    private readonly deflate: boolean,
    private readonly totals: QueueTotals = UNTRACKED,
  ) {}

  /** Frames waiting in the queue (not yet handed to the socket). */
  get length(): number {
    return this.frames === null ? 0 : this.frames.length;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /**
   * Queues a frame. Returns false on overflow: the caller must close the connection. Passing the
   * bound while the socket is writable flushes at once, sharing `cache` with the other connections
   * that pass it at the same frame (a busy room's members all do, mid-turn).
   */
  push(frame: Buffer, cache?: BatchCache): boolean {
    if (this.closed) return true;
    if (this.frames === null) this.frames = [frame];
    else this.frames.push(frame);
    this.bytes += frame.length;
    this.totals.frames++;
    this.totals.bytes += frame.length;
    if (this.frames.length <= this.limits.messages && this.bytes <= this.limits.bytes) return true;
    if (this.waitingDrain) return false;
    return this.flush(cache);
  }

  /** Hands what is queued to the socket. Returns false when the queue overflowed (deflate path). */
  flush(cache?: BatchCache): boolean {
    const frames = this.frames;
    if (frames === null || this.closed || this.waitingDrain) return true;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) {
      this.drop();
      return true;
    }
    this.frames = null;
    const bytes = this.bytes;
    this.bytes = 0;
    this.totals.frames -= frames.length;
    this.totals.bytes -= bytes;
    if (this.deflate) {
      for (let i = 0; i < frames.length; i++) this.ws.send(framePayload(frames[i]));
      return this.ws.bufferedAmount <= this.limits.bytes;
    }
    let data: Buffer;
    if (frames.length === 1) {
      data = frames[0];
    } else {
      const shared = cache === undefined ? null : cache.get(frames);
      if (shared !== null) {
        data = shared;
      } else {
        data = Buffer.concat(frames, bytes);
        cache?.put(frames, data);
      }
    }
    const ok = socket.write(data);
    if (!ok) {
      this.waitingDrain = true;
      this.totals.backedUp.add(this);
      socket.once('drain', this.onDrain);
    }
    return true;
  }

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.totals.backedUp.delete(this);
    this.flush();
  };

  /** Drops everything queued and refuses further frames (the connection is closing). */
  drop(): void {
    if (this.frames !== null) {
      this.totals.frames -= this.frames.length;
      this.totals.bytes -= this.bytes;
    }
    if (this.waitingDrain) this.totals.backedUp.delete(this);
    this.closed = true;
    this.frames = null;
    this.bytes = 0;
  }
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
