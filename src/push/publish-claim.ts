import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

const CLAIM_PREFIX = 'gw:push-claim:';

/**
 * Redis pub/sub hands a `hub.publish` event to every gateway instance subscribed to it; exactly one
 * must publish it. Each instance tries `SET gw:push-claim:<id> NX PX <DEDUP_WINDOW_MS>` and only the
 * winner publishes. (The dedup store alone cannot do this: its check and its write are not one step.)
 */
@Injectable()
export class PublishClaim implements OnApplicationShutdown {
  private readonly logger = new Logger('PublishClaim');
  private readonly redis: Redis | null;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.redis = config.redisUrl
      ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true })
      : null;
    this.redis?.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
  }

  /** True when this instance won the event (or there is no Redis: a single instance). */
  async claim(sender: string, id: string): Promise<boolean> {
    if (this.redis === null) return true;
    const ttl = Math.max(this.config.dedupWindowMs, 1000);
    const key = `${CLAIM_PREFIX}${sender.length}:${sender}:${id}`;
    return (await this.redis.set(key, '1', 'PX', ttl, 'NX')) === 'OK';
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis === null) return;
    await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}
