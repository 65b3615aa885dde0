import type { UserDirectory, UserPresence } from '../users.js';

/** The directory of a single instance: user -> connection -> rooms. Nothing to expire. */
export class MemoryUsers implements UserDirectory {
  private readonly users = new Map<string, Map<string, readonly string[]>>();

  acquire(userId: string, connectionId: string, limit: number): Promise<boolean> {
    let conns = this.users.get(userId);
    if (limit > 0 && conns !== undefined && conns.size >= limit && !conns.has(connectionId)) {
      return Promise.resolve(false);
    }
    if (conns === undefined) this.users.set(userId, (conns = new Map<string, readonly string[]>()));
    if (!conns.has(connectionId)) conns.set(connectionId, []);
    return Promise.resolve(true);
  }

  update(userId: string, connectionId: string, rooms: readonly string[]): Promise<void> {
    const conns = this.users.get(userId);
    if (conns?.has(connectionId)) conns.set(connectionId, rooms);
    return Promise.resolve();
  }

  release(userId: string, connectionId: string): Promise<void> {
    const conns = this.users.get(userId);
    if (conns?.delete(connectionId) && conns.size === 0) this.users.delete(userId);
    return Promise.resolve();
  }

  lookup(userId: string): Promise<UserPresence> {
    const conns = this.users.get(userId);
    const rooms = new Set<string>();
    for (const r of conns?.values() ?? []) for (const room of r) rooms.add(room);
    return Promise.resolve({ connections: conns?.size ?? 0, rooms: [...rooms].sort() });
  }

  close(): Promise<void> {
    this.users.clear();
    return Promise.resolve();
  }
}
