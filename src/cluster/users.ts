/**
 * Every live connection of a user, cluster-wide: each connection holds a lease (refreshed by its
 * instance, expiring when the instance dies) that records the rooms it has joined. The same leases
 * enforce MAX_CONNECTIONS_PER_USER across instances: `acquire` counts the live leases and adds one
 * only under the limit, atomically. Without Redis the directory is this instance's.
 */
export interface UserDirectory {
  /** Takes a lease for a new connection; false when the user already has `limit` (0 = no limit). */
  acquire(userId: string, connectionId: string, limit: number): Promise<boolean>;
  /** Records the rooms a connection has joined now. */
  update(userId: string, connectionId: string, rooms: readonly string[]): Promise<void>;
  release(userId: string, connectionId: string): Promise<void>;
  /** The user's live connections and the rooms they have joined (each room once). */
  lookup(userId: string): Promise<UserPresence>;
  close(): Promise<void>;
}

export interface UserPresence {
  connections: number;
  rooms: string[];
}

export const USERS = Symbol('USERS');
