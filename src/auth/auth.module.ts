import { Logger, Module } from '@nestjs/common';
import { BROKER } from '../cluster/broker.js';
import { GATEWAY_CONFIG, type GatewayConfig, usesRedis } from '../config/config.js';
import { DevTokenController } from './dev-token.controller.js';
import { HandshakeAuthenticator } from './handshake-authenticator.js';
import { JwtVerifier } from './jwt-verifier.js';
import { MemoryTicketStore } from './memory-ticket-store.js';
import { TICKET_STORE, type TicketStore } from './ticket-store.js';
import { WsTicketController } from './ws-ticket.controller.js';
import { WsTicketService } from './ws-ticket.service.js';

/**
 * Tickets in Redis when the gateway uses Redis (REDIS_URL, Sentinel or Cluster; loaded only then),
 * else in this process. Built after the cluster seams (BROKER, injected for that alone): the Redis
 * modules are then loaded once, in one place, instead of two dynamic imports of ioredis racing
 * (Jest's ESM loader fails on that race).
 */
async function createTicketStore(config: GatewayConfig): Promise<TicketStore> {
  if (!usesRedis(config)) return new MemoryTicketStore();
  const { RedisTicketStore } = await import('../cluster/redis/redis-ticket-store.js');
  const { redisSettings } = await import('../cluster/redis/connection.js');
  return new RedisTicketStore(redisSettings(config), new Logger('Redis'));
}

@Module({
  controllers: [DevTokenController, WsTicketController],
  providers: [
    JwtVerifier,
    HandshakeAuthenticator,
    WsTicketService,
    { provide: TICKET_STORE, inject: [GATEWAY_CONFIG, BROKER], useFactory: createTicketStore },
  ],
  exports: [JwtVerifier, HandshakeAuthenticator, WsTicketService],
})
export class AuthModule {}
