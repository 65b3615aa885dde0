import {
  Controller,
  Header,
  HttpCode,
  HttpException,
  Inject,
  Logger,
  Options,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import type { HttpRequest, HttpResponse } from '../common/http.js';
import { bearerToken } from './bearer.js';
import { HandshakeAuthenticator } from './handshake-authenticator.js';
import { InvalidTokenError, JwtVerifier } from './jwt-verifier.js';
import type { Principal } from './principal.js';
import { TicketStoreFullError, TicketStoreUnavailableError } from './ticket-store.js';
import { WindowLimiter } from './window-limiter.js';
import { type IssuedTicket, WsTicketService } from './ws-ticket.service.js';

/**
 * Per client address: generous, since many users may share one address (NAT, an office, a proxy
 * without TRUST_PROXY). It is checked before the token is verified, so a flood of bad tokens costs
 * at most 100 signature checks a second per address.
 */
const PER_IP = { limit: 1000, windowMs: 10_000 };
/**
 * Per user: each connection attempt takes one ticket; 30 in 10 s covers a user's tabs
 * (MAX_CONNECTIONS_PER_USER, default 20) all reconnecting at once after a deploy.
 */
const PER_USER = { limit: 30, windowMs: 10_000 };

/**
 * POST /api/ws-ticket with `Authorization: Bearer <jwt>` -> 200 `{ticket, expiresIn}`: a single-use
 * ticket for `GET /ws?ticket=...` (docs/protocol.md, Handshake). 401 without a valid token, 429
 * `rate_limited` with Retry-After, 503 `unavailable` when the ticket store cannot be reached.
 * Errors are `{error, message}` like the handshake's refusals. Neither the token nor the ticket is
 * ever logged.
 */
@Controller('api')
export class WsTicketController {
  private readonly logger = new Logger('WsTicket');
  private readonly perIp = new WindowLimiter(PER_IP.limit, PER_IP.windowMs);
  private readonly perUser = new WindowLimiter(PER_USER.limit, PER_USER.windowMs);

  constructor(
    @Inject(WsTicketService) private readonly tickets: WsTicketService,
    @Inject(JwtVerifier) private readonly jwt: JwtVerifier,
    @Inject(HandshakeAuthenticator) private readonly authenticator: HandshakeAuthenticator,
  ) {}

  @Post('ws-ticket')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async issue(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpResponse): Promise<IssuedTicket> {
    this.cors(req, res);
    const ipWait = this.perIp.hit(this.authenticator.clientIp(req));
    if (ipWait > 0) throw rateLimited(res, ipWait);
    const token = bearerToken(req.headers.authorization);
    if (token === null) {
      throw new HttpException({ error: 'unauthorized', message: 'send Authorization: Bearer <jwt>' }, 401);
    }
    let principal: Principal;
    try {
      principal = this.jwt.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError)
        throw new HttpException({ error: 'unauthorized', message: err.message }, 401);
      throw err;
    }
    const userWait = this.perUser.hit(principal.id);
    if (userWait > 0) throw rateLimited(res, userWait);
    try {
      return await this.tickets.issue(principal);
    } catch (err) {
      if (err instanceof TicketStoreFullError || err instanceof TicketStoreUnavailableError) {
        this.logger.warn(`cannot issue a ticket: ${err.message}`);
        res.setHeader('Retry-After', '1');
        throw new HttpException({ error: 'unavailable', message: 'cannot issue a ticket now; retry' }, 503);
      }
      throw err;
    }
  }

  /**
   * CORS preflight, for pages on another origin than the gateway. The endpoint relies on no ambient
   * credential (no cookie: the caller must hold the token), so any origin ALLOWED_ORIGINS admits to
   * the WebSocket may ask.
   */
  @Options('ws-ticket')
  @HttpCode(204)
  preflight(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpResponse): void {
    this.cors(req, res);
    res.setHeader('Access-Control-Allow-Methods', 'POST');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization');
    res.setHeader('Access-Control-Max-Age', '600');
  }

  /** Refuses a page of an origin ALLOWED_ORIGINS does not list (403), else lets it read the answer. */
  private cors(req: HttpRequest, res: HttpResponse): void {
    const origin = req.headers.origin;
    if (!this.authenticator.originAllowed(origin)) {
      throw new HttpException({ error: 'forbidden_origin', message: `origin ${origin} is not allowed` }, 403);
    }
    if (origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
    }
  }
}

function rateLimited(res: HttpResponse, retryAfterSec: number): HttpException {
  res.setHeader('Retry-After', String(retryAfterSec));
  return new HttpException({ error: 'rate_limited', message: 'too many ticket requests; retry later' }, 429);
}
