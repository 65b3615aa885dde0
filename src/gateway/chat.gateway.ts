import { Inject, Optional, UseFilters, UsePipes } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { HandshakeAuthenticator } from '../auth/handshake-authenticator.js';
import { InvalidTokenError, JwtVerifier } from '../auth/jwt-verifier.js';
import { mayJoin, type Principal } from '../auth/principal.js';
import { HooksService } from '../hooks/hooks.service.js';
import { PublishLanes } from '../hooks/publish-lanes.js';
import { Connection } from '../hub/connection.js';
import { HubService } from '../hub/hub.service.js';
import { ErrorCode } from '../protocol/wire/codes.js';
import { type AuthedFrame, LeftReason, type PongFrame } from '../protocol/wire/frames.js';
import { AuthDto, DirectDto, JoinDto, LeaveDto, MessageDto, PingDto } from '../protocol/envelope.dto.js';
import { EnvelopePipe } from '../protocol/envelope.pipe.js';
import { WsError } from '../protocol/ws-error.js';
import { HotRoute } from './hot-route.js';
import { WsErrorFilter } from './ws-error.filter.js';
import { WsConnection, WsPrincipal } from './ws-params.decorator.js';

/**
 * Routes client frames to the hub. Authentication happened at the handshake (upgrade.ts);
 * every payload is validated by EnvelopePipe and every failure becomes an `error` frame through
 * WsErrorFilter. The hub sends all answers through the connection's queue.
 */
@WebSocketGateway({ path: '/ws' })
@UseFilters(WsErrorFilter)
@UsePipes(EnvelopePipe)
export class ChatGateway {
  /** The join hook, when there is one. */
  private readonly joinHook: HooksService | null;
  /** Client messages through the publish hook, in order per connection; null without that hook. */
  private readonly lanes: PublishLanes | null;

  constructor(
    private readonly hub: HubService,
    private readonly jwt: JwtVerifier,
    private readonly authenticator: HandshakeAuthenticator,
    @Optional() @Inject(HooksService) private readonly hooks: HooksService | null = null,
  ) {
    this.joinHook = hooks?.joins ? hooks : null;
    this.lanes = hooks?.publishes ? new PublishLanes(hub, hooks) : null;
  }

  @SubscribeMessage('join')
  async join(@WsConnection() c: Connection, @MessageBody() dto: JoinDto): Promise<void> {
    if (this.joinHook !== null) await this.joinHook.join(c, dto.room);
    await this.hub.join(c, dto.room, dto.since, dto.epoch, dto.last);
  }

  @SubscribeMessage('leave')
  leave(@WsConnection() c: Connection, @MessageBody() dto: LeaveDto): void {
    this.hub.leave(c, dto.room);
  }

  @SubscribeMessage('message')
  @HotRoute()
  message(@WsConnection() c: Connection, @MessageBody() dto: MessageDto): void | Promise<void> {
    if (this.lanes !== null) return this.lanes.submit(c, dto.room, dto.content, dto.id);
    return this.hub.publishFromClient(c, dto.room, dto.content, dto.id);
  }

  @SubscribeMessage('direct')
  async direct(@WsConnection() c: Connection, @MessageBody() dto: DirectDto): Promise<void> {
    await this.hub.direct(c, dto.to, dto.content, dto.id);
  }

  @SubscribeMessage('ping')
  ping(@MessageBody() dto: PingDto): PongFrame {
    return dto.id === undefined
      ? { type: 'pong', time: Date.now() }
      : { type: 'pong', time: Date.now(), id: dto.id };
  }

  /**
   * Token refresh: only a valid, unrevoked token for the same `sub` replaces the current one. Rooms
   * the new token's `rooms` claim no longer allows are left (`left {room, reason: "forbidden"}`,
   * before `authed`): nothing more is delivered from them and sending there is `forbidden`.
   */
  @SubscribeMessage('auth')
  async auth(
    @WsConnection() c: Connection,
    @WsPrincipal() current: Principal,
    @MessageBody() dto: AuthDto,
  ): Promise<AuthedFrame> {
    let next: Principal;
    try {
      next = this.jwt.verify(dto.token);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new WsError(ErrorCode.Unauthorized, err.message);
      throw err;
    }
    if (next.id !== current.id) {
      throw new WsError(ErrorCode.Unauthorized, 'the new token is for another user');
    }
    if (await this.authenticator.isRevoked(next)) throw new WsError(ErrorCode.Unauthorized, 'token revoked');
    c.principal = this.hooks?.connects ? this.hooks.carryGrant(current, next) : next;
    for (const room of [...(c.rooms ?? [])]) {
      if (!mayJoin(c.principal, room)) this.hub.leave(c, room, LeftReason.Forbidden);
    }
    return { type: 'authed', exp: next.exp };
  }
}
