import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { Refusal } from '../protocol/codes.js';
import { bearerToken } from './bearer.js';
import { InvalidTokenError, JwtVerifier } from './jwt-verifier.js';
import { type Principal } from './principal.js';
import { REVOCATIONS, type RevocationStore } from './revocation.js';

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
export class HandshakeAuthenticator {
  private readonly logger = new Logger('GatewayAdapter');
  private readonly origins: Set<string> | null;
  private revocationDown = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly jwt: JwtVerifier,
    @Inject(REVOCATIONS) private readonly revocations: RevocationStore,
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
    const origin = req.headers.origin;
    if (this.origins !== null && origin !== undefined && !this.origins.has(origin)) {
      throw new HandshakeRefusal(Refusal.ForbiddenOrigin, `origin ${origin} is not allowed`);
    }
    const token = extractToken(req, url);
    if (!token) {
      throw new HandshakeRefusal(
        Refusal.Unauthorized,
        'missing token: send Authorization: Bearer <jwt> or ?token=<jwt>',
      );
    }
    try {
      return this.jwt.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new HandshakeRefusal(Refusal.Unauthorized, err.message);
      throw err;
    }
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
}

function extractToken(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  return header !== undefined ? bearerToken(header) : url.searchParams.get('token');
}
