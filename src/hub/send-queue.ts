import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { framePayload } from './frame.js';

export interface QueueLimits {
  readonly messages: number;
  readonly bytes: number;
}

/**
 * A connection's bounded outbound queue and its writer (gorilla's `send` channel and write pump).
 *
 * Frames are pre-built WebSocket frames shared between recipients. The writer runs at most once per
 * event-loop turn for a connection (the hub schedules it) and hands every queued frame to the socket
 * inside one cork/uncork, so a turn's frames leave in one writev while each keeps its own frame
 * boundary. It writes only while the socket accepts data without buffering past its high-water mark;
 * the rest waits in the queue for 'drain'. A queue that passes either bound reports overflow and the
 * hub closes the connection 1013 "slow consumer".
 *
 * With permessage-deflate negotiated the frames cannot be written raw (each needs its own
 * compression), so they go through ws.send and `ws.bufferedAmount` is the bound.
 */
export class SendQueue {
  private frames: Buffer[] | null = null;
  private head = 0;
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
  ) {}

  /** Frames waiting in the queue (not yet handed to the socket). */
  get length(): number {
    return this.frames === null ? 0 : this.frames.length - this.head;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /** Queues a frame. Returns false when a bound is passed: the caller must close the connection. */
  push(frame: Buffer): boolean {
    if (this.closed) return true;
    if (this.frames === null) this.frames = [];
    this.frames.push(frame);
    this.bytes += frame.length;
    return this.frames.length - this.head <= this.limits.messages && this.bytes <= this.limits.bytes;
  }

  /** Writes what the socket takes now. Returns false when the queue overflowed (deflate path). */
  flush(): boolean {
    const frames = this.frames;
    if (frames === null || this.closed || this.waitingDrain) return true;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) {
      this.drop();
      return true;
    }
    if (this.deflate) return this.flushDeflate(frames);
    let i = this.head;
    const n = frames.length;
    socket.cork();
    while (i < n) {
      const frame = frames[i++];
      this.bytes -= frame.length;
      if (!socket.write(frame)) break;
    }
    socket.uncork();
    if (i === n) {
      this.frames = null;
      this.head = 0;
      this.bytes = 0;
    } else {
      this.head = i;
      if (i > 1024 && i * 2 > n) {
        this.frames = frames.slice(i);
        this.head = 0;
      }
      this.waitingDrain = true;
      socket.once('drain', this.onDrain);
    }
    return true;
  }

  private flushDeflate(frames: Buffer[]): boolean {
    for (let i = this.head; i < frames.length; i++) this.ws.send(framePayload(frames[i]));
    this.frames = null;
    this.head = 0;
    this.bytes = 0;
    return this.ws.bufferedAmount <= this.limits.bytes;
  }

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.flush();
  };

  /** Drops everything queued and refuses further frames (the connection is closing). */
  drop(): void {
    this.closed = true;
    this.frames = null;
    this.head = 0;
    this.bytes = 0;
  }
}
