import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import { type SendQueue } from './send-queue.js';
import { type TokenBucket } from './token-bucket.js';

/**
 * One WebSocket connection as the hub sees it (gorilla's Client). Kept small: an idle connection
 * costs this object, its queue and its bucket on top of what `ws` itself holds.
 */
export class Connection {
  /** Rooms this connection has joined (created on first join). */
  rooms: Set<string> | null = null;
  /** Last sign of life (any frame or a pong), epoch ms. */
  lastSeen: number;
  lastPing: number;
  /** When a close was started: the socket is destroyed if still open at this time; 0 = open. */
  closeDeadline = 0;
  /** Times of recent error frames (created on the first error). */
  errorTimes: number[] | null = null;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly socket: Socket,
    public principal: Principal,
    readonly ip: string,
    readonly queue: SendQueue,
    readonly bucket: TokenBucket,
    now: number,
  ) {
    this.lastSeen = now;
    this.lastPing = now;
  }

  get open(): boolean {
    return this.closeDeadline === 0;
  }

  joined(room: string): boolean {
    return this.rooms !== null && this.rooms.has(room);
  }
}
