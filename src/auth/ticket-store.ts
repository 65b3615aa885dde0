import type { Principal } from './principal.js';

/**
 * Where WebSocket tickets live between `POST /api/ws-ticket` and the handshake that redeems them.
 * A ticket is a key (the SHA-256 of the ticket, so the store never holds a usable ticket) mapped to
 * the principal it was issued for, with a time to live. `take` is atomic: of two handshakes racing
 * with one ticket, exactly one gets the principal.
 *
 * Implementations: MemoryTicketStore (one instance) and RedisTicketStore (REDIS_URL: a ticket
 * issued by one instance is redeemed on any other).
 */
export interface TicketStore {
  /** Stores a ticket; rejects (TicketStoreFullError, or unavailable) when it cannot. */
  put(key: string, principal: Principal, ttlMs: number): Promise<void>;
  /** The principal of an unused, unexpired ticket, removing it; null otherwise. */
  take(key: string): Promise<Principal | null>;
  /** Whether the backing store answers (always true in memory). */
  isHealthy(): boolean;
  close(): Promise<void>;
}

export const TICKET_STORE = Symbol('TICKET_STORE');

/** The memory store holds as many outstanding tickets as it may; the endpoint answers 503. */
export class TicketStoreFullError extends Error {
  override name = 'TicketStoreFullError';
}

/** The store could not be reached (Redis down): the endpoint answers 503, the handshake 503. */
export class TicketStoreUnavailableError extends Error {
  override name = 'TicketStoreUnavailableError';
}

/** A principal as stored: plain JSON. */
export function encodePrincipal(p: Principal): string {
  return JSON.stringify({ id: p.id, name: p.name, rooms: p.rooms, exp: p.exp, scopes: p.scopes });
}

export function decodePrincipal(json: string): Principal | null {
  try {
    const v = JSON.parse(json) as Partial<Principal>;
    if (typeof v.id !== 'string' || typeof v.name !== 'string') return null;
    return {
      id: v.id,
      name: v.name,
      rooms: Array.isArray(v.rooms) ? v.rooms.filter((r) => typeof r === 'string') : null,
      exp: typeof v.exp === 'number' ? v.exp : null,
      scopes: Array.isArray(v.scopes) ? v.scopes.filter((s) => typeof s === 'string') : [],
    };
  } catch {
    return null;
  }
}
