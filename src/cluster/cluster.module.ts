import { Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { BROKER, type Broker } from './broker.js';
import { DEDUP, type DedupStore } from './dedup.js';
import { MemoryBroker } from './memory/memory-broker.js';
import { MemoryDedup } from './memory/memory-dedup.js';
import { MemoryPresence } from './memory/memory-presence.js';
import { PRESENCE, type PresenceStore } from './presence.js';

/** The three seams between this instance's hub and the rest of the cluster. */
export interface ClusterSeams {
  broker: Broker;
  presence: PresenceStore;
  dedup: DedupStore;
}

const SEAMS = Symbol('CLUSTER_SEAMS');

/**
 * Chooses the cluster seams' implementations: in memory (the default, a single instance) or Redis
 * when REDIS_URL is set. The Redis code (and ioredis) is loaded with a dynamic import, only then.
 * The hub closes the seams on shutdown.
 */
async function createSeams(config: GatewayConfig): Promise<ClusterSeams> {
  if (config.redisUrl) {
    const { createRedisSeams } = await import('./redis/index.js');
    return createRedisSeams(config);
  }
  return {
    broker: new MemoryBroker(config.historySize),
    presence: new MemoryPresence(),
    dedup: new MemoryDedup(),
  };
}

@Module({
  providers: [
    { provide: SEAMS, inject: [GATEWAY_CONFIG], useFactory: createSeams },
    { provide: BROKER, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.broker },
    { provide: PRESENCE, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.presence },
    { provide: DEDUP, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.dedup },
  ],
  exports: [BROKER, PRESENCE, DEDUP],
})
export class ClusterModule {}
