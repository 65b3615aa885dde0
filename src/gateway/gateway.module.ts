import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ChatGateway } from './chat.gateway.js';
import { WsErrorFilter } from './ws-error.filter.js';
import { EnvelopePipe } from '../protocol/envelope.pipe.js';

/**
 * The WebSocket endpoint: connection lifecycle and frame routing. HubService comes from the global
 * `HubModule.forRoot…` that AppModule imports (one hub per process).
 */
@Module({
  imports: [AuthModule],
  providers: [ChatGateway, WsErrorFilter, EnvelopePipe],
})
export class GatewayModule {}
