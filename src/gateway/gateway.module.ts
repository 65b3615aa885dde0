import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { HubModule } from '../hub/hub.module.js';
import { ChatGateway } from './chat.gateway.js';
import { WsErrorFilter } from './ws-exception.filter.js';

/** The WebSocket endpoint: connection lifecycle and frame routing. */
@Module({
  imports: [AuthModule, HubModule],
  providers: [ChatGateway, WsErrorFilter],
})
export class GatewayModule {}
