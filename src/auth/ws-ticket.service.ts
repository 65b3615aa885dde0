import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import type { Principal } from './principal.js';
import { TICKET_STORE, type TicketStore } from './ticket-store.js';

export interface IssuedTicket {
  ticket: string;
  /** Seconds the ticket stays valid (WS_TICKET_TTL_SEC, shorter when the token expires sooner). */
  expiresIn: number;
}

/** A ticket: 32 random bytes (256 bits), base64url, 43 characters. */
const TICKET = /^[A-Za-z0-9_-]{43}$/;

/**
 * WebSocket tickets: a short-lived, single-use stand-in for a JWT in the handshake URL, so that the
 * token itself never appears in a URL (and so in no access or error log of a proxy). A ticket is
 * opaque (random, 256 bits), bound to the principal verified when it was issued (the same claims:
 * rooms, scopes, exp), and is never logged. The connection it opens lasts until the token's `exp`,
 * as one opened with the token would.
 */
@Injectable()
export class WsTicketService implements OnApplicationShutdown {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(TICKET_STORE) private readonly store: TicketStore,
  ) {}

  async issue(principal: Principal, now = Date.now()): Promise<IssuedTicket> {
    let ttlMs = this.config.wsTicketTtlSec * 1000;
    if (principal.exp !== null) ttlMs = Math.min(ttlMs, principal.exp * 1000 - now);
    ttlMs = Math.max(1000, ttlMs);
    const ticket = randomBytes(32).toString('base64url');
    await this.store.put(keyOf(ticket), principal, ttlMs);
    return { ticket, expiresIn: Math.floor(ttlMs / 1000) };
  }

  /** The principal of a valid ticket, consuming it; null when unknown, used, expired or malformed. */
  async redeem(ticket: string, now = Date.now()): Promise<Principal | null> {
    if (!TICKET.test(ticket)) return null;
    const principal = await this.store.take(keyOf(ticket));
    if (principal === null) return null;
    if (principal.exp !== null && principal.exp * 1000 <= now) return null;
    return principal;
  }

  isHealthy(): boolean {
    return this.store.isHealthy();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

function keyOf(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}
