import type { Principal } from './principal.js';
import { type TicketStore, TicketStoreFullError } from './ticket-store.js';

interface Entry {
  principal: Principal;
  expiresAt: number;
}

/** Outstanding tickets one instance holds at most (each a few hundred bytes). */
export const MEMORY_TICKET_LIMIT = 100_000;

/**
 * Tickets of a single instance. Bounded: expired tickets are swept on every `put` (oldest first:
 * the Map keeps insertion order, which is expiry order since every ticket gets the same TTL or a
 * shorter one), and when `limit` unexpired tickets are outstanding a new one is refused rather than
 * an older one dropped (the endpoint's rate limit keeps honest users far from it).
 */
export class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, Entry>();

  constructor(
    private readonly limit: number = MEMORY_TICKET_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.tickets.size;
  }

  put(key: string, principal: Principal, ttlMs: number): Promise<void> {
    const now = this.now();
    this.sweep(now);
    if (this.tickets.size >= this.limit) {
      return Promise.reject(new TicketStoreFullError('too many outstanding tickets'));
    }
    this.tickets.set(key, { principal, expiresAt: now + ttlMs });
    return Promise.resolve();
  }

  take(key: string): Promise<Principal | null> {
    const entry = this.tickets.get(key);
    if (entry === undefined) return Promise.resolve(null);
    this.tickets.delete(key);
    return Promise.resolve(entry.expiresAt > this.now() ? entry.principal : null);
  }

  isHealthy(): boolean {
    return true;
  }

  close(): Promise<void> {
    this.tickets.clear();
    return Promise.resolve();
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.tickets) {
      if (entry.expiresAt > now) break;
      this.tickets.delete(key);
    }
  }
}
