import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { UserRef } from '../protocol/frames.js';
import { type SendQueue } from './send-queue.js';
import { type TokenBucket } from '../protocol/wire/token-bucket.js';

/**
 * One WebSocket connection as the hub sees it (gorilla's Client). Kept small: an idle connection
 * costs this object, its queue and its bucket on top of what `ws` itself holds.
 */
export class Connection {
  /** Rooms this connection has joined (created on first join). */
  rooms: Set<string> | null = null;
  /** Last sign of life (any frame or a pong), on the monotonic clock (clock.ts), like every time here. */
  lastSeen: number;
  lastPing: number;
  /** When a close was started: the socket is destroyed if still open at this time; 0 = open. */
  closeDeadline = 0;
  /** Times of recent error frames counted toward ERROR_LIMIT (created on the first one). */
  errorTimes: number[] | null = null;
  private userRef: UserRef | null = null;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    public principal: Principal,
    readonly ip: string,
    readonly queue: SendQueue,
    readonly bucket: TokenBucket,
    now: number,
  ) {
    this.lastSeen = now;
    this.lastPing = now;
  }

  /** `{id, name}` of the principal, built once (again after a token refresh changes the principal). */
  get user(): UserRef {
    const p = this.principal;
    let u = this.userRef;
    if (u === null || u.id !== p.id || u.name !== p.name) this.userRef = u = { id: p.id, name: p.name };
    return u;
  }

  get open(): boolean {
    return this.closeDeadline === 0;
  }

  joined(room: string): boolean {
    return this.rooms !== null && this.rooms.has(room);
  }
}
