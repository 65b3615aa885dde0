import { Logger } from '@nestjs/common';
import type { Principal } from '../../auth/principal.js';
import {
  decodePrincipal,
  encodePrincipal,
  type TicketStore,
  TicketStoreUnavailableError,
} from '../../auth/ticket-store.js';
import { openRedis, quit, type RedisClient, type RedisSettings } from './connection.js';

/**
 * Tickets in Redis, so that one issued by any instance is redeemed on any other: `SET key PX ttl`
 * to issue, `GETDEL` to redeem (atomic: a ticket is used once however many handshakes race with it).
 * Key: `<REDIS_KEY_PREFIX>ticket:<sha256 of the ticket>`, so neither Redis nor its MONITOR output
 * ever holds a usable ticket. Its own connection, so that a ticket never waits behind a publish.
 */
export class RedisTicketStore implements TicketStore {
  readonly redis: RedisClient;
  private readonly prefix: string;

  constructor(settings: RedisSettings, logger = new Logger('Redis')) {
    this.prefix = `${settings.keyPrefix}ticket:`;
    this.redis = openRedis(settings, 'gateway-tickets', logger);
  }

  async put(key: string, principal: Principal, ttlMs: number): Promise<void> {
    try {
      await this.redis.set(this.prefix + key, encodePrincipal(principal), 'PX', Math.max(1, ttlMs));
    } catch (err) {
      throw new TicketStoreUnavailableError(`redis: ${(err as Error).message}`);
    }
  }

  async take(key: string): Promise<Principal | null> {
    let json: string | null;
    try {
      json = await this.redis.getdel(this.prefix + key);
    } catch (err) {
      throw new TicketStoreUnavailableError(`redis: ${(err as Error).message}`);
    }
    return json === null ? null : decodePrincipal(json);
  }

  isHealthy(): boolean {
    return this.redis.status === 'ready';
  }

  close(): Promise<void> {
    return quit(this.redis);
  }
}
