import { type ArgumentsHost, Catch, Logger, type WsExceptionFilter } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { HubError } from '../hub/hub-error.js';
import { HubService } from '../hub/hub.service.js';
import { ErrorCode } from '../protocol/codes.js';
import { WsError } from '../protocol/ws-error.js';
import { connectionOf } from './socket-tag.js';

/**
 * The one exception filter of the gateway: a WsError or the hub's HubError becomes its `error` frame; anything else is an
 * unexpected fault, logged with its stack and answered `internal`. The connection stays up either way
 * (Nest's default filter would emit an "exception" event that `ws` never sends anywhere).
 */
@Catch()
export class WsErrorFilter implements WsExceptionFilter {
  private readonly logger = new Logger('Gateway');

  constructor(private readonly hub: HubService) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const c = connectionOf(ws.getClient<WebSocket>());
    if (c === undefined) return;
    const data = ws.getData<{ id?: unknown } | undefined>();
    const ref = typeof data === 'object' && data !== null ? data.id : undefined;
    if (exception instanceof WsError || exception instanceof HubError) {
      const details = exception instanceof WsError ? exception.details : undefined;
      // Only the client's own errors count toward ERROR_LIMIT (HubError.byClient).
      const counted = !(exception instanceof HubError) || exception.byClient;
      this.hub.sendError(c, exception.code, exception.message, ref, details, counted);
      return;
    }
    this.logger.error(
      `internal fault on connection ${c.id} (user ${c.principal.id})`,
      (exception as Error)?.stack ?? String(exception),
    );
    this.hub.sendError(c, ErrorCode.Internal, 'internal error', ref);
  }
}
