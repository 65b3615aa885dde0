import { Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig, usesRedis } from '../config/config.js';
import { BROKER } from './broker.js';
import type { ClusterSeams } from './cluster-seams.js';
import { IDEMPOTENCY } from './idempotency.js';
import { MemoryBroker } from './memory/memory-broker.js';
import { MemoryDedup } from './memory/memory-dedup.js';
import { MemoryPresence } from './memory/memory-presence.js';
import { PRESENCE } from './presence.js';
import { MemoryUsers } from './memory/memory-users.js';
import { USERS } from './users.js';
import { MemoryRevocations } from '../auth/revocation-memory.js';
import { REVOCATIONS } from '../auth/revocation.js';

export type { ClusterSeams } from './cluster-seams.js';

const SEAMS = Symbol('CLUSTER_SEAMS');

/**
 * Chooses the cluster seams' implementations: in memory (the default, a single instance) or Redis
 * when REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is set. The Redis code (and ioredis) is loaded with a dynamic import, only then.
 * The hub closes the seams on shutdown.
 */
async function createSeams(config: GatewayConfig): Promise<ClusterSeams> {
  if (usesRedis(config)) {
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
    users: new MemoryUsers(),
    revocations: new MemoryRevocations(config.tokenMaxLifetimeSec),
  };
}

@Module({
  providers: [
    { provide: SEAMS, inject: [GATEWAY_CONFIG], useFactory: createSeams },
    { provide: BROKER, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.broker },
    { provide: PRESENCE, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.presence },
    { provide: IDEMPOTENCY, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.idempotency },
    { provide: USERS, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.users },
    { provide: REVOCATIONS, inject: [SEAMS], useFactory: (s: ClusterSeams) => s.revocations },
  ],
  exports: [BROKER, PRESENCE, IDEMPOTENCY, USERS, REVOCATIONS],
})
export class ClusterModule {}
