import type { Connection } from './connection.js';
import type { RoomMessage } from '../protocol/frames.js';

/**
 * A joiner still being caught up: while its history is being read (`pending` non-null) live
 * messages are buffered; afterwards live messages up to `after` (already replayed) are skipped.
 */
export interface JoinState {
  pending: RoomMessage[] | null;
  after: number;
}

/** This instance's members of one room. */
export class LocalRoom {
  /** Members that receive live messages directly. */
  readonly members = new Set<Connection>();
  /** Members being caught up (see JoinState). */
  readonly joining = new Map<Connection, JoinState>();
  /** Highest seq delivered on this instance. */
  deliveredSeq = 0;

  constructor(readonly name: string) {}

  get size(): number {
    return this.members.size + this.joining.size;
  }

  has(c: Connection): boolean {
    return this.members.has(c) || this.joining.has(c);
  }

  delete(c: Connection): void {
    this.members.delete(c);
    this.joining.delete(c);
  }
}
