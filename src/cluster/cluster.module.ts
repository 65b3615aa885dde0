import { Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { BROKER } from './broker.js';
import type { ClusterSeams } from './cluster-seams.js';
import { IDEMPOTENCY } from './idempotency.js';
import { MemoryBroker } from './memory/memory-broker.js';
import { MemoryDedup } from './memory/memory-dedup.js';
import { MemoryPresence } from './memory/memory-presence.js';
import { PRESENCE } from './presence.js';

export type { ClusterSeams } from './cluster-seams.js';

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
  // One store: the broker records room publications' keys in it, the hub direct messages'.
  const idempotency = new MemoryDedup();
  return {
    broker: new MemoryBroker(config.historySize, idempotency, {
      roomIdleTtlMs: config.roomIdleTtlSec * 1000,
      historyMaxBytes: config.historyMaxBytes,
    }),
    presence: new MemoryPresence(),
    idempotency,
  };
}

@Module({
  providers: [
    { provide: SEAMS, inject: [GATEWAY_CONFIG], useFactory: createSeams },
    { provide: BROKER, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.broker },
    { provide: PRESENCE, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.presence },
    { provide: IDEMPOTENCY, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.idempotency },
  ],
  exports: [BROKER, PRESENCE, IDEMPOTENCY],
})
export class ClusterModule {}
