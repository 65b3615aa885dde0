import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { Refusal } from '../protocol/codes.js';
import { bearerToken } from './bearer.js';
import { InvalidTokenError, JwtVerifier } from './jwt-verifier.js';
import { type Principal } from './principal.js';
import { REVOCATIONS, type RevocationStore } from './revocation.js';
import { TicketStoreUnavailableError } from './ticket-store.js';
import { WsTicketService } from './ws-ticket.service.js';

/** A handshake refused with an HTTP status and a JSON body `{error, message}`. */
export class HandshakeRefusal extends Error {
  constructor(
    readonly refusal: Refusal,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeRefusal';
  }
}

/**
 * The guard of the upgrade path. Nest guards do not run on handleConnection (nestjs/nest#882), so
 * the gateway's adapter calls this before the upgrade: an unauthenticated request never becomes a
 * WebSocket. Checks the origin and the JWT; connection limits are the hub's.
 */
@Injectable()
export class HandshakeAuthenticator implements OnApplicationShutdown {
  private readonly logger = new Logger('GatewayAdapter');
  private readonly origins: Set<string> | null;
  private revocationDown = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly jwt: JwtVerifier,
    @Inject(REVOCATIONS) private readonly revocations: RevocationStore,
    @Inject(WsTicketService) private readonly tickets: WsTicketService,
  ) {
    this.origins = config.allowedOrigins ? new Set(config.allowedOrigins) : null;
  }

  /** The client's address: the first X-Forwarded-For entry when TRUST_PROXY is on. */
  clientIp(req: IncomingMessage): string {
    if (this.config.trustProxy) {
      const xff = req.headers['x-forwarded-for'];
      const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  authenticate(req: IncomingMessage, url: URL): Principal {
    this.checkOrigin(req);
    const token = extractToken(req, url);
    if (!token) {
      throw new HandshakeRefusal(
        Refusal.Unauthorized,
        'missing token: send Authorization: Bearer <jwt>, ?ticket=<ticket> or ?token=<jwt>',
      );
    }
    try {
      return this.jwt.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new HandshakeRefusal(Refusal.Unauthorized, err.message);
      throw err;
    }
  }

  /** The revocation store shares the cluster's Redis connection: its close gives its share back. */
  async onApplicationShutdown(): Promise<void> {
    await this.revocations.close();
  }

  /**
   * Whether the token was revoked (POST /api/tokens/revoke). A revocation store that cannot be
   * reached lets the token through (logged once per outage): a Redis outage must not refuse every
   * handshake and token refresh.
   */
  async isRevoked(principal: Principal): Promise<boolean> {
    try {
      const revoked = await this.revocations.check(principal);
      this.revocationDown = false;
      return revoked;
    } catch (err) {
      if (!this.revocationDown) this.logger.warn(`revocation check failed: ${(err as Error).message}`);
      this.revocationDown = true;
      return false;
    }
  }

  /**
   * The `?ticket=` of a handshake, or null: a handshake with an Authorization header uses the
   * header (the ticket is ignored), one with neither header nor ticket uses `?token=`.
   */
  ticketOf(req: IncomingMessage, url: URL): string | null {
    if (req.headers.authorization !== undefined) return null;
    return url.searchParams.get('ticket');
  }

  /**
   * The principal a ticket (POST /api/ws-ticket) was issued for, consuming the ticket. An unknown,
   * used or expired ticket is refused like an invalid token (401); an unreachable store is 503.
   */
  async redeem(req: IncomingMessage, ticket: string): Promise<Principal> {
    this.checkOrigin(req);
    let principal: Principal | null;
    try {
      principal = await this.tickets.redeem(ticket);
    } catch (err) {
      if (err instanceof TicketStoreUnavailableError)
        throw new HandshakeRefusal(Refusal.Unavailable, 'tickets cannot be checked now; retry');
      throw err;
    }
    if (principal === null) {
      throw new HandshakeRefusal(Refusal.Unauthorized, 'invalid ticket: unknown, used or expired');
    }
    return principal;
  }

  /** Whether ALLOWED_ORIGINS lets a page of `origin` in (no Origin header: not a browser, yes). */
  originAllowed(origin: string | undefined): boolean {
    return this.origins === null || origin === undefined || this.origins.has(origin);
  }

  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (!this.originAllowed(origin)) {
      throw new HandshakeRefusal(Refusal.ForbiddenOrigin, `origin ${origin} is not allowed`);
    }
  }
}

function extractToken(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  return header !== undefined ? bearerToken(header) : url.searchParams.get('token');
}
