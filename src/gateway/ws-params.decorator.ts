import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { connectionOf } from './socket-tag.js';

/** The verified principal of the connection a message came from. */
export const WsPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  return connectionOf(ctx.switchToWs().getClient<WebSocket>())?.principal;
});

/** The factory behind @WsConnection (exported so the adapter's hot routes can recognise it). */
export function connectionParam(_: unknown, ctx: ExecutionContext): unknown {
  return connectionOf(ctx.switchToWs().getClient<WebSocket>());
}

/** The hub's Connection for the socket a message came from. */
export const WsConnection = createParamDecorator(connectionParam);
