import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  UseFilters,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { fieldProblems, PushError, PushHttpError } from '../push/push-errors.js';
import { ApiExceptionFilter } from './api.filter.js';
import { RequireScopes, ServiceAuthGuard } from '../push/service-auth.guard.js';
import {
  type DisconnectAnswer,
  DisconnectRequest,
  HistoryQuery,
  type LeaveAnswer,
  ListQuery,
  RevokeRequest,
  type RevokeAnswer,
  type RoomHistory,
  type RoomInfo,
  RoomParams,
  type RoomPresence,
  type UserInfo,
  UserParams,
  UserRoomParams,
} from './api.dto.js';
import { ServerApiService } from './server-api.service.js';

/** Reads: a service token with scope "read" or "admin". */
export const READ_SCOPES = ['read', 'admin'];
/** Commands (disconnect, remove from a room, revoke): scope "admin". */
export const ADMIN_SCOPE = 'admin';

/**
 * The server API: what is true now in the cluster (rooms, presence, history, users) and commands
 * that reach every instance (disconnect a user, take a user out of a room, revoke tokens). Same
 * credential and error answers as POST /api/publish (ServiceAuthGuard, PushExceptionFilter):
 * `{error, message, details?}` with 400/401/403/429/503. docs/operations.md lists every endpoint.
 */
@Controller('api')
@UseFilters(ApiExceptionFilter)
@UseGuards(ServiceAuthGuard)
@UsePipes(
  new ValidationPipe({
    whitelist: true,
    forbidUnknownValues: true,
    transform: true,
    exceptionFactory: (errors) =>
      new PushHttpError(PushError.BadRequest, 'invalid request', fieldProblems(errors)),
  }),
)
export class ServerApiController {
  constructor(@Inject(ServerApiService) private readonly api: ServerApiService) {}

  @Get('rooms/:room')
  @RequireScopes(...READ_SCOPES)
  room(@Param() p: RoomParams): Promise<RoomInfo> {
    return this.api.room(p.room);
  }

  @Get('rooms/:room/presence')
  @RequireScopes(...READ_SCOPES)
  presence(@Param() p: RoomParams, @Query() q: ListQuery): Promise<RoomPresence> {
    return this.api.presenceOf(p.room, q.limit);
  }

  @Get('rooms/:room/history')
  @RequireScopes(...READ_SCOPES)
  history(@Param() p: RoomParams, @Query() q: HistoryQuery): Promise<RoomHistory> {
    return this.api.history(p.room, q.since, q.epoch, q.limit);
  }

  @Get('users/:id')
  @RequireScopes(...READ_SCOPES)
  user(@Param() p: UserParams): Promise<UserInfo> {
    return this.api.user(p.id);
  }

  @Post('users/:id/disconnect')
  @HttpCode(200)
  @RequireScopes(ADMIN_SCOPE)
  disconnect(@Param() p: UserParams, @Body() body: DisconnectRequest): Promise<DisconnectAnswer> {
    return this.api.disconnect(p.id, body.code, body.reason);
  }

  @Post('users/:id/rooms/:room/leave')
  @HttpCode(200)
  @RequireScopes(ADMIN_SCOPE)
  async leave(@Param() p: UserRoomParams): Promise<LeaveAnswer> {
    await this.api.leave(p.id, p.room);
    return { id: p.id, room: p.room };
  }

  @Post('tokens/revoke')
  @HttpCode(200)
  @RequireScopes(ADMIN_SCOPE)
  revoke(@Body() body: RevokeRequest): Promise<RevokeAnswer> {
    return this.api.revoke({ sub: body.sub, jti: body.jti, until: body.until });
  }
}
