import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  type OnModuleDestroy,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpRequest as Request } from '../common/http.js';
import { InvalidTokenError, JwtVerifier } from '../auth/jwt-verifier.js';
import type { Principal } from '../auth/principal.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { TokenBucket } from '../protocol/wire/token-bucket.js';
import { bearerToken } from '../auth/bearer.js';
import { PushError, PushHttpError } from './push-errors.js';
import { monotonicNow } from '../hub/clock.js';

/** The scope a service token must carry to use the push API. */
export const PUBLISH_SCOPE = 'publish';

const SCOPES = 'gateway:service-scopes';

/**
 * The scopes a handler (or controller) accepts, any one of them; without it the guard asks for
 * "publish" (the push API).
 */
export const RequireScopes = (...scopes: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(SCOPES, scopes);

export type ServiceRequest = Request & { service?: Principal };

const IDLE_BUCKET_MS = 60_000;

/**
 * Service authentication for the push API: `Authorization: Bearer <jwt>` verified by the same
 * JwtVerifier (key, pinned algorithm, exp/nbf, iss/aud) as user tokens, and carrying
 * `scope: "publish"` (space-separated scopes). Then a token bucket per service (`sub`):
 * SERVICE_RATE_LIMIT_PER_SEC requests per second, the same burst. 401 / 403 / 429.
 */
@Injectable()
export class ServiceAuthGuard implements CanActivate, OnModuleDestroy {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(JwtVerifier) private readonly jwt: JwtVerifier,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {
    this.sweeper = setInterval(() => this.forgetIdle(monotonicNow()), IDLE_BUCKET_MS);
    this.sweeper.unref();
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<ServiceRequest>();
    const token = bearerToken(req.headers.authorization);
    if (token === null) {
      throw new PushHttpError(
        PushError.Unauthorized,
        'send Authorization: Bearer <service token>',
        undefined,
        {
          'WWW-Authenticate': 'Bearer',
        },
      );
    }
    let principal: Principal;
    try {
      principal = this.jwt.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        throw new PushHttpError(PushError.Unauthorized, err.message, undefined, {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        });
      }
      throw err;
    }
    const accepted = this.reflector.getAllAndOverride<string[] | undefined>(SCOPES, [
      context.getHandler(),
      context.getClass(),
    ]) ?? [PUBLISH_SCOPE];
    if (!accepted.some((s) => principal.scopes.includes(s))) {
      const names = accepted.map((s) => `"${s}"`).join(' or ');
      throw new PushHttpError(PushError.Forbidden, `the token lacks the ${names} scope`);
    }
    const now = monotonicNow();
    let entry = this.buckets.get(principal.id);
    if (entry === undefined) {
      const rate = this.config.serviceRatePerSec;
      this.buckets.set(principal.id, (entry = { bucket: new TokenBucket(rate, rate, now), used: now }));
    }
    entry.used = now;
    if (!entry.bucket.take(now)) {
      const retry = Math.max(1, Math.ceil(1 / this.config.serviceRatePerSec));
      throw new PushHttpError(
        PushError.RateLimited,
        `over SERVICE_RATE_LIMIT_PER_SEC (${this.config.serviceRatePerSec} requests per second)`,
        undefined,
        { 'Retry-After': String(retry) },
      );
    }
    req.service = principal;
    return true;
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private forgetIdle(now: number): void {
    for (const [id, e] of this.buckets) if (now - e.used > IDLE_BUCKET_MS) this.buckets.delete(id);
  }
}
