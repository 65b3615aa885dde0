import { Logger } from '@nestjs/common';
import type { UserDirectory } from '../cluster/users.js';
import type { Connection } from './connection.js';

/**
 * This instance's side of the cluster-wide user directory: a lease per connection, taken at the
 * handshake (MAX_CONNECTIONS_PER_USER counted over every instance), its rooms kept up to date after
 * joins and leaves (batched per turn), released when the connection goes. A directory that cannot be
 * reached does not refuse connections: the limit is then enforced per instance only (logged).
 */
export class UserLeases {
  private readonly logger = new Logger('Hub');
  private readonly dirty = new Set<Connection>();
  private flushing = false;
  private warned = false;

  constructor(
    readonly directory: UserDirectory,
    private readonly limit: number,
  ) {}

  /** Takes a lease for a connection about to be registered; false = the user is at the limit. */
  async admit(userId: string, connectionId: string): Promise<boolean> {
    try {
      const ok = await this.directory.acquire(userId, connectionId, this.limit);
      this.warned = false;
      return ok;
    } catch (err) {
      this.warn('acquire', err);
      return true;
    }
  }

  /** A connection's rooms changed: written to the directory at the end of the turn. */
  roomsChanged(c: Connection): void {
    this.dirty.add(c);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }

  release(c: Connection): void {
    this.dirty.delete(c);
    this.directory.release(c.principal.id, c.id).catch((err) => this.warn('release', err));
  }

  /** A lease taken for a handshake that did not become a connection. */
  abandon(userId: string, connectionId: string): void {
    this.directory.release(userId, connectionId).catch((err) => this.warn('release', err));
  }

  private flush(): void {
    this.flushing = false;
    for (const c of this.dirty) {
      if (!c.open) continue;
      this.directory
        .update(c.principal.id, c.id, [...(c.rooms ?? [])])
        .catch((err) => this.warn('update', err));
    }
    this.dirty.clear();
  }

  private warn(what: string, err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(`user directory ${what} failed: ${(err as Error)?.message ?? err}`);
  }
}
