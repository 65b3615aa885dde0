import { Logger } from '@nestjs/common';
import type { GatewayConfig } from '../../config/config.js';
import type { ClusterSeams } from '../cluster-seams.js';
import { openRedis, SharedConnection, waitReady } from './connection.js';
import { RedisBroker } from './redis-broker.js';
import { RedisDedup } from './redis-dedup.js';
import { RedisPresence } from './redis-presence.js';
import { RedisRevocations } from './redis-revocations.js';
import { RedisUsers } from './redis-users.js';

export { RedisBroker } from './redis-broker.js';
export { RedisDedup } from './redis-dedup.js';
export { RedisPresence } from './redis-presence.js';
export { SharedConnection, openRedis } from './connection.js';

/** How long startup waits for Redis before it goes on unready (it keeps reconnecting). */
const STARTUP_WAIT_MS = 3000;

/**
 * The Redis implementations of the cluster seams, sharing one command connection (the broker adds
 * its subscriber connection). Loaded with a dynamic import only when REDIS_URL is set.
 */
export async function createRedisSeams(config: GatewayConfig): Promise<ClusterSeams> {
  const url = config.redisUrl!;
  const settings = { url, keyPrefix: config.redisKeyPrefix, commandTimeoutMs: config.redisCommandTimeoutMs };
  const logger = new Logger('Redis');
  const shared = new SharedConnection(openRedis(settings, 'gateway-cmd', logger));
  const broker = new RedisBroker(
    { ...settings, historySize: config.historySize, roomTtlMs: config.redisRoomTtlSec * 1000 },
    shared,
  );
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
    waitReady(broker.subscriber, STARTUP_WAIT_MS),
  ]);
  if (!broker.isHealthy())
    logger.warn(`Redis at ${redactUrl(url)} is not reachable yet: not ready, retrying`);
  else logger.log(`cluster mode: Redis at ${redactUrl(url)}, key prefix "${config.redisKeyPrefix}"`);
  return { broker, presence, idempotency, users, revocations };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
