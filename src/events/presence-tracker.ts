import type { UserRef } from '../protocol/frames.js';
import type { GatewayEvents, LeftReason } from './events.js';

/** Receives the debounced, cluster-wide presence transitions a tracker decides. */
export type PresenceEmit = <K extends 'online' | 'offline' | 'joined' | 'left'>(
  type: K,
  data: GatewayEvents[K],
) => void;

/**
 * Turns per-connection facts (opened, closed, joined a room, left it) into `online`/`offline` and
 * per-room `joined`/`left` that strictly alternate per user (and room): a user's first connection
 * announces, the last one's close announces only if no connection came back within the grace.
 */
export interface PresenceTracker {
  open(user: UserRef, connectionId: string): void;
  close(user: UserRef, connectionId: string): void;
  join(room: string, user: UserRef, connectionId: string): void;
  leave(room: string, user: UserRef, connectionId: string, reason: LeftReason): void;
  /** Stops timers; pending departures are not announced (the process is going away). */
  stop(): void;
}

interface Entry {
  user: UserRef;
  connections: Set<string>;
  announced: boolean;
  timer: NodeJS.Timeout | null;
  reason: LeftReason;
}

/**
 * The tracker of one instance (memory mode): the same semantics, within this process. A departure
 * waits `graceMs` for a connection of the same user (and room) to come back before it is announced.
 */
export class LocalPresenceTracker implements PresenceTracker {
  private readonly users = new Map<string, Entry>();
  private readonly rooms = new Map<string, Entry>();

  constructor(
    private readonly graceMs: number,
    private readonly emit: PresenceEmit,
    private readonly now: () => number = Date.now,
  ) {}

  open(user: UserRef, connectionId: string): void {
    if (this.arrive(this.users, user.id, user, connectionId)) {
      this.emit('online', { user, time: this.now() });
    }
  }

  close(user: UserRef, connectionId: string): void {
    this.depart(this.users, user.id, connectionId, 'disconnect', () => {
      this.emit('offline', { user, time: this.now() });
    });
  }

  join(room: string, user: UserRef, connectionId: string): void {
    if (this.arrive(this.rooms, roomKey(room, user.id), user, connectionId)) {
      this.emit('joined', { room, user, time: this.now() });
    }
  }

  leave(room: string, user: UserRef, connectionId: string, reason: LeftReason): void {
    this.depart(this.rooms, roomKey(room, user.id), connectionId, reason, (e) => {
      this.emit('left', { room, user: e.user, reason: e.reason, time: this.now() });
    });
  }

  stop(): void {
    for (const map of [this.users, this.rooms]) {
      for (const e of map.values()) if (e.timer !== null) clearTimeout(e.timer);
      map.clear();
    }
  }

  /** Whether this arrival is to be announced (nobody was there, nor leaving within the grace). */
  private arrive(map: Map<string, Entry>, key: string, user: UserRef, connectionId: string): boolean {
    let e = map.get(key);
    if (e === undefined) {
      map.set(key, (e = { user, connections: new Set(), announced: false, timer: null, reason: 'leave' }));
    }
    e.connections.add(connectionId);
    if (e.timer !== null) {
      clearTimeout(e.timer);
      e.timer = null;
    }
    if (e.announced) return false;
    e.announced = true;
    return true;
  }

  private depart(
    map: Map<string, Entry>,
    key: string,
    connectionId: string,
    reason: LeftReason,
    announce: (e: Entry) => void,
  ): void {
    const e = map.get(key);
    if (e === undefined || !e.connections.delete(connectionId) || e.connections.size > 0) return;
    e.reason = reason;
    const settle = () => {
      e.timer = null;
      if (e.connections.size > 0) return;
      map.delete(key);
      if (e.announced) announce(e);
    };
    if (this.graceMs <= 0) settle();
    else {
      e.timer = setTimeout(settle, this.graceMs);
      e.timer.unref();
    }
  }
}

function roomKey(room: string, userId: string): string {
  return `${room}\n${userId}`;
}
