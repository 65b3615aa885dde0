import { Logger, Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { DevTokenController } from './dev-token.controller.js';
import { HandshakeAuthenticator } from './handshake-authenticator.js';
import { JwtVerifier } from './jwt-verifier.js';
import { MemoryTicketStore } from './memory-ticket-store.js';
import { TICKET_STORE, type TicketStore } from './ticket-store.js';
import { WsTicketController } from './ws-ticket.controller.js';
import { WsTicketService } from './ws-ticket.service.js';

/** Tickets in Redis when REDIS_URL is set (loaded only then), else in this process. */
async function createTicketStore(config: GatewayConfig): Promise<TicketStore> {
  if (!config.redisUrl) return new MemoryTicketStore();
  const { RedisTicketStore } = await import('../cluster/redis/redis-ticket-store.js');
  return new RedisTicketStore(
    {
      url: config.redisUrl,
      keyPrefix: config.redisKeyPrefix,
      commandTimeoutMs: config.redisCommandTimeoutMs,
    },
    new Logger('Redis'),
  );
}

@Module({
  controllers: [DevTokenController, WsTicketController],
  providers: [
    JwtVerifier,
    HandshakeAuthenticator,
    WsTicketService,
    { provide: TICKET_STORE, inject: [GATEWAY_CONFIG], useFactory: createTicketStore },
  ],
  exports: [JwtVerifier, HandshakeAuthenticator, WsTicketService],
})
export class AuthModule {}
