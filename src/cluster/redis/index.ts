import { Logger } from '@nestjs/common';
import type { GatewayConfig } from '../../config/config.js';
import type { ClusterSeams } from '../cluster-seams.js';
import {
  openRedis,
  type RedisSettings,
  redisSettings,
  SharedConnection,
  targetLabel,
  waitReady,
} from './connection.js';
import { RedisBroker } from './redis-broker.js';
import { RedisDedup } from './redis-dedup.js';
import { RedisPresence } from './redis-presence.js';
import { ReplicaConfirmation } from './replica-confirmation.js';
import { RedisRevocations } from './redis-revocations.js';
import { RedisUsers } from './redis-users.js';

export { RedisBroker } from './redis-broker.js';
export { RedisDedup } from './redis-dedup.js';
export { RedisPresence } from './redis-presence.js';
export { SharedConnection, openRedis } from './connection.js';
export { ReplicaConfirmation } from './replica-confirmation.js';

/** How long startup waits for Redis before it goes on unready (it keeps reconnecting). */
const STARTUP_WAIT_MS = 3000;

/**
 * The Redis implementations of the cluster seams, sharing one command connection (the broker adds
 * its subscriber connection, one per shard master in a Redis Cluster, and with REDIS_MIN_REPLICAS
 * the connection its WAITs block). Every connection is opened in the same mode (connection.ts):
 * REDIS_URL, the master the sentinels name, or a Redis Cluster client (REDIS_CLUSTER_NODES). Loaded
 * with a dynamic import only when one of them is set.
 */
export async function createRedisSeams(config: GatewayConfig): Promise<ClusterSeams> {
  const settings = redisSettings(config);
  const logger = new Logger('Redis');
  const shared = new SharedConnection(openRedis(settings, 'gateway-cmd', logger));
  const brokerOptions = {
    ...settings,
    historySize: config.historySize,
    roomTtlMs: config.redisRoomTtlSec * 1000,
    eventsMaxlen: config.eventsMaxlen,
  };
  const replicas =
    config.redisMinReplicas > 0
      ? new ReplicaConfirmation(
          { ...brokerOptions, minReplicas: config.redisMinReplicas, waitMs: config.redisWaitMs },
          shared.redis,
        )
      : null;
  const broker = new RedisBroker(brokerOptions, shared, replicas);
  const presence = new RedisPresence(
    {
      keyPrefix: config.redisKeyPrefix,
      ttlMs: config.presenceTtlMs,
      presenceMaxMembers: config.presenceMaxMembers,
    },
    shared,
  );
  const idempotency = new RedisDedup(config.redisKeyPrefix, shared);
  const users = new RedisUsers(config.redisKeyPrefix, config.presenceTtlMs, shared);
  const revocations = new RedisRevocations(config.redisKeyPrefix, config.tokenMaxLifetimeSec, shared);
  await Promise.all([
    waitReady(shared.redis, STARTUP_WAIT_MS),
    broker.subscriber.waitReady(STARTUP_WAIT_MS),
    ...(replicas !== null ? [waitReady(replicas.connection, STARTUP_WAIT_MS)] : []),
  ]);
  const where = describe(settings);
  if (!broker.isHealthy()) logger.warn(`Redis (${where}) is not reachable yet: not ready, retrying`);
  else
    logger.log(
      `cluster mode: Redis (${where}), key prefix "${config.redisKeyPrefix}"` +
        (replicas !== null
          ? `, publishes acked once on ${config.redisMinReplicas} replica(s) (WAIT ${config.redisWaitMs} ms)`
          : ''),
    );
  return { broker, presence, idempotency, users, revocations };
}

function describe(settings: RedisSettings): string {
  if (settings.cluster !== undefined) return `${targetLabel(settings)}, sharded pub/sub`;
  if (settings.sentinel !== undefined) {
    const list = settings.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    return `${targetLabel(settings)} via sentinels ${list}`;
  }
  return (settings.url ?? '').replace(/\/\/[^@/]*@/, '//***@');
}
