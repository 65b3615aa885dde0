import type { UserRef } from '../protocol/frames.js';

/**
 * Who is in which room, per user (several connections of one user are one member), cluster-wide.
 * Implementations expire entries of instances that stopped refreshing them (crash cleanup).
 */
export interface PresenceStore {
  /** Records a connection in a room; true when it is the user's first connection there. */
  add(room: string, user: UserRef, connectionId: string): Promise<boolean>;
  /** Removes a connection; true when it was the user's last connection there. */
  remove(room: string, userId: string, connectionId: string): Promise<boolean>;
  /** Number of distinct users in the room. */
  count(room: string): Promise<number>;
  /** Distinct users in the room, at most `limit`. */
  members(room: string, limit: number): Promise<UserRef[]>;
  close(): Promise<void>;
}

export const PRESENCE = Symbol('PRESENCE');
