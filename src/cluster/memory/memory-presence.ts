import type { UserRef } from '../../protocol/frames.js';
import type { PresenceStore } from '../presence.js';

interface Member {
  user: UserRef;
  connections: Set<string>;
}

/** Presence for a single instance: room -> user -> connections. Nothing to expire. */
export class MemoryPresence implements PresenceStore {
  private readonly rooms = new Map<string, Map<string, Member>>();

  add(room: string, user: UserRef, connectionId: string): Promise<boolean> {
    let users = this.rooms.get(room);
    if (users === undefined) this.rooms.set(room, (users = new Map<string, Member>()));
    let member = users.get(user.id);
    const first = member === undefined;
    if (member === undefined) users.set(user.id, (member = { user, connections: new Set() }));
    member.connections.add(connectionId);
    return Promise.resolve(first);
  }

  remove(room: string, userId: string, connectionId: string): Promise<boolean> {
    const users = this.rooms.get(room);
    const member = users?.get(userId);
    if (users === undefined || member === undefined || !member.connections.delete(connectionId)) {
      return Promise.resolve(false);
    }
    if (member.connections.size > 0) return Promise.resolve(false);
    users.delete(userId);
    if (users.size === 0) this.rooms.delete(room);
    return Promise.resolve(true);
  }

  count(room: string): Promise<number> {
    return Promise.resolve(this.rooms.get(room)?.size ?? 0);
  }

  members(room: string, limit: number): Promise<UserRef[]> {
    const out: UserRef[] = [];
    for (const m of this.rooms.get(room)?.values() ?? []) {
      if (out.length >= limit) break;
      out.push(m.user);
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    this.rooms.clear();
    return Promise.resolve();
  }
}
